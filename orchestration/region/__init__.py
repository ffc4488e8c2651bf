"""The regional tier: member authorities each run their own pipeline and send the region their
pseudonymised marts under a regional key; the region builds cross-authority marts (docs/region.md)."""
