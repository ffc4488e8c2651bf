"""The synthetic local authority: the embedded default that the demo, tests and benchmarks run on."""

from typing import Any

__all__ = ["DEFAULT_FAULT_RATE", "GenerationResult", "default_as_of", "generate"]


def __getattr__(name: str) -> Any:  # imported on first use: the simulation modules are heavy
    if name in __all__:
        from orchestration.synthetic import authority as module

        return getattr(module, name)
    raise AttributeError(name)
