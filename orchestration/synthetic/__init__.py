"""The synthetic local authority: the embedded default that the demo, tests and benchmarks run on."""

from orchestration.synthetic.generate import DEFAULT_FAULT_RATE, GenerationResult, default_as_of, generate

__all__ = ["DEFAULT_FAULT_RATE", "GenerationResult", "default_as_of", "generate"]
