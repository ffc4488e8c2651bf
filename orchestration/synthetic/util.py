"""Small vectorised helpers shared by the generator's partner modules."""

from __future__ import annotations

import numpy as np


def hex_ids(rng: np.random.Generator, n: int, *parts: int) -> np.ndarray:
    """Lower-case hex ids shaped like MIS table ids, e.g. parts (8, 3) -> ``0002e817-8ca``: random-looking
    but, like a real table's ids, never repeated within one call. Consecutive numbers times a random odd
    multiplier, modulo a power of two, are all different (the multiplier is invertible)."""
    width = sum(parts)
    if n == 0:
        return np.array([], dtype=str)
    if width > 16 or n > 2 ** (4 * width):
        raise ValueError(f"{n} distinct ids do not fit in {width} hex digits")
    mask = np.uint64(2 ** (4 * width) - 1)
    offset = np.uint64(rng.integers(0, 2**63))
    multiplier = np.uint64(rng.integers(0, 2**63)) | np.uint64(1)
    with np.errstate(over="ignore"):  # arithmetic modulo 2**64, then the mask keeps the low digits
        values = ((np.arange(n, dtype=np.uint64) + offset) * multiplier) & mask
    digits = values.astype(">u8").tobytes().hex()
    chars = np.frombuffer(digits.encode("ascii"), dtype="S1").reshape(n, 16)[:, 16 - width :]
    pieces, at = [], 0
    for size in parts:
        pieces.append(np.ascontiguousarray(chars[:, at : at + size]).view(f"S{size}").ravel().astype(str))
        at += size
    out = pieces[0]
    for piece in pieces[1:]:
        out = np.char.add(np.char.add(out, "-"), piece)
    return out


def choose(rng: np.random.Generator, options: dict[str, float], n: int) -> np.ndarray:
    """Draw n codes with the probabilities given (normalised)."""
    keys = list(options)
    p = np.array([options[k] for k in keys], dtype=float)
    return rng.choice(keys, size=n, p=p / p.sum())


def postcodes(rng: np.random.Generator, districts: list[str], n: int) -> np.ndarray:
    """Well-formed postcodes in the authority's districts (inward letters never include C I K M O V)."""
    letters = np.array(list("ABDEFGHJLNPQRSTUWXYZ"))
    outward = np.char.add(rng.choice(np.array(districts), n), " ")
    inward = np.char.add(
        rng.integers(1, 10, n).astype(str), np.char.add(rng.choice(letters, n), rng.choice(letters, n))
    )
    return np.char.add(outward, inward)


def repeated_dates(
    rng: np.random.Generator,
    first: np.ndarray,
    until: np.ndarray,
    step_days: np.ndarray | int,
    jitter_days: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Regular events from ``first`` every ``step_days`` while before ``until``, for many rows at once.

    Returns (row index, date) pairs, in row then date order.
    """
    step = np.broadcast_to(np.asarray(step_days, dtype=np.int64), first.shape)
    span = (until - first).astype(np.int64)
    count = np.where(span > 0, span // np.maximum(step, 1) + 1, 0)
    row = np.repeat(np.arange(len(first)), count)
    seq = np.arange(len(row)) - np.repeat(np.cumsum(count) - count, count)
    jitter = (
        rng.integers(-jitter_days, jitter_days + 1, len(row)) if jitter_days else np.zeros(len(row), np.int64)
    )
    when = first[row] + (seq * step[row] + np.where(seq > 0, jitter, 0)).astype("timedelta64[D]")
    keep = when < until[row]
    return row[keep], when[keep]
