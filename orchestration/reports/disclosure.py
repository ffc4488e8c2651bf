"""Statistical disclosure control for every published figure (docs/domain.md §8), in one place.

Counts of 1 to 5 are shown as ``c``; a rate whose numerator or denominator is suppressed is suppressed
too. Zero is a genuine zero and is shown.
"""

from __future__ import annotations

SUPPRESSED = "c"
NOT_APPLICABLE = "z"
SMALL_MAX = 5


def is_small(count: int | None) -> bool:
    return count is not None and 1 <= count <= SMALL_MAX


def count_cell(count: int | None) -> str:
    if count is None:
        return NOT_APPLICABLE
    return SUPPRESSED if is_small(count) else str(int(count))


def rate_cell(numerator: int | None, denominator: int | None, decimals: int = 1) -> str:
    """A percentage, suppressed when either count behind it is small; ``z`` when there is no denominator."""
    if not denominator:
        return NOT_APPLICABLE
    if is_small(numerator) or is_small(denominator):
        return SUPPRESSED
    return f"{100.0 * (numerator or 0) / denominator:.{decimals}f}"
