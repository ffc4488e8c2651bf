"""Statistical disclosure control for every published figure (docs/domain.md §8), in one place.

- Primary suppression: a count of 1 to 5 is shown as ``c``. Zero is a genuine zero and is shown.
- Secondary suppression: in a table whose rows add up to published totals (a filter with a ``Total``
  level), no total may have exactly one unknown among its parts and itself: another cell (the smallest
  non-zero part) is suppressed too, repeatedly, until no suppressed cell can be derived by differencing.
- A percentage is suppressed when its numerator or denominator is.
- National and regional figures are rounded to the nearest 10.
- Only the DfE's symbols appear: c (suppressed), x (unavailable), z (not applicable), low, u, k.

``attack`` is the check: it re-reads a published table and solves for every suppressed cell it can from
the totals; any cell it recovers (or any count of 1 to 5 left showing) makes the table disclosive.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

SUPPRESSED = "c"
NOT_AVAILABLE = "x"
NOT_APPLICABLE = "z"
SYMBOLS = ("c", "x", "z", "low", "u", "k")
SMALL_MAX = 5
TOTAL = "Total"
ROUNDED_LEVELS = ("National", "Regional")


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


@dataclass(frozen=True)
class TableSpec:
    """How a tidy table's figures relate: ``keys`` identify a row (time period, geography, filters);
    ``additive`` are the filters with a ``Total`` level that its other levels add up to; ``counts`` are
    the count indicators; ``rates`` map a percentage column to its (numerator, denominator) counts."""

    keys: tuple[str, ...]
    additive: tuple[str, ...]
    counts: tuple[str, ...]
    rates: tuple[tuple[str, str, str], ...] = ()
    decimals: int = 1


def _equations(frame: pd.DataFrame, spec: TableSpec) -> list[np.ndarray]:
    """Each published total with its parts, as arrays of row positions (the total first)."""
    out = []
    position = pd.Series(np.arange(len(frame)), index=frame.index)
    for filt in spec.additive:
        others = [k for k in spec.keys if k != filt]
        grouped = frame.groupby(others, sort=False, dropna=False) if others else [(None, frame)]
        for _, group in grouped:
            total = group.index[group[filt].eq(TOTAL)]
            parts = group.index[group[filt].ne(TOTAL)]
            if len(total) == 1 and len(parts):
                out.append(position[[total[0], *parts]].to_numpy())
    return out


def protect(frame: pd.DataFrame, spec: TableSpec) -> tuple[pd.DataFrame, int]:
    """The table as published (count and rate columns as text) and the number of cells suppressed."""
    frame = frame.reset_index(drop=True)
    equations = _equations(frame, spec)
    out = frame.copy()
    suppressed_cells = 0
    hidden: dict[str, np.ndarray] = {}
    for column in spec.counts:
        values = frame[column].to_numpy(dtype="float64")
        known = ~np.isnan(values)
        hide = known & (values >= 1) & (values <= SMALL_MAX)
        changed = True
        while changed:  # secondary suppression until no equation has exactly one unknown
            changed = False
            for eq in equations:
                unknown = hide[eq] | ~known[eq]
                if unknown.sum() != 1 or not hide[eq].any():
                    continue
                candidates = [i for i in eq[1:] if not hide[i] and known[i] and values[i] > 0]
                if not candidates and not hide[eq[0]] and known[eq[0]]:
                    candidates = [eq[0]]
                if candidates:
                    hide[min(candidates, key=lambda i: values[i])] = True
                    changed = True
        hidden[column] = hide
        suppressed_cells += int(hide.sum())
        text = np.where(np.isnan(values), NOT_AVAILABLE, pd.Series(values).map(lambda v: f"{v:.0f}"))
        out[column] = np.where(hide, SUPPRESSED, text)
    for column, numerator, denominator in spec.rates:
        num = frame[numerator].to_numpy(dtype="float64")
        den = frame[denominator].to_numpy(dtype="float64")
        with np.errstate(divide="ignore", invalid="ignore"):
            pct = np.round(100.0 * num / den, spec.decimals)
        text = pd.Series(pct).map(lambda v: f"{v:.{spec.decimals}f}")
        cell = np.where(np.isnan(den) | (den == 0), NOT_APPLICABLE, text)
        cell = np.where(hidden.get(numerator, False) | hidden.get(denominator, False), SUPPRESSED, cell)
        out[column] = cell
        suppressed_cells += int((cell == SUPPRESSED).sum())
    if "geographic_level" in out:
        rounded = out["geographic_level"].isin(ROUNDED_LEVELS).to_numpy()
        for column in spec.counts:
            numbers = pd.to_numeric(out[column], errors="coerce")
            out[column] = np.where(
                rounded & numbers.notna(), (numbers.round(-1)).map("{:.0f}".format), out[column]
            )
    return out, suppressed_cells


def attack(published: pd.DataFrame, spec: TableSpec) -> list[str]:
    """Every way a published table discloses: small counts showing, symbols outside the DfE's list, and
    suppressed cells recovered by solving the totals, described for the person fixing it."""
    problems = []
    frame = published.reset_index(drop=True)
    equations = _equations(frame, spec)
    for column in (*spec.counts, *(r[0] for r in spec.rates)):
        text = frame[column].astype(str)
        numeric = pd.to_numeric(text, errors="coerce")
        stray = text[numeric.isna() & ~text.isin(SYMBOLS)]
        problems += [
            f"{column} row {i}: {v!r} is neither a number nor a DfE symbol" for i, v in stray.items()
        ]
    for column in spec.counts:
        text = frame[column].astype(str)
        values = np.array(pd.to_numeric(text, errors="coerce"), dtype="float64")
        small = np.where((values >= 1) & (values <= SMALL_MAX))[0]
        problems += [f"{column} row {i}: a count of {values[i]:.0f} is published" for i in small]
        unknown = np.array(text.eq(SUPPRESSED))
        solved = True
        while solved:
            solved = False
            for eq in equations:
                missing = eq[unknown[eq]]
                if len(missing) != 1 or np.isnan(values[eq][~unknown[eq]]).any():
                    continue
                i = missing[0]
                rest = values[[j for j in eq if j != i]]
                values[i] = rest[1:].sum() if i == eq[0] else rest[0] - rest[1:].sum()
                unknown[i] = False
                solved = True
                problems.append(f"{column} row {i}: suppressed, but the totals give {values[i]:.0f}")
    return problems
