"""Release gates: Great Expectations suites (expectations/) run as blocking asset checks."""
