"""Small vectorised helpers shared by the generator's partner modules."""

from __future__ import annotations

import numpy as np


def hex_ids(rng: np.random.Generator, n: int, *parts: int) -> np.ndarray:
    """Random lower-case hex ids shaped like MIS table ids, e.g. parts (8, 3) -> ``0002e817-8ca``."""
    width = sum(parts)
    if n == 0:
        return np.array([], dtype=str)
    raw = rng.integers(0, 256, size=(n, (width + 1) // 2), dtype=np.uint8).tobytes().hex()
    chars = np.frombuffer(raw.encode("ascii"), dtype="S1").reshape(n, -1)[:, :width]
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
