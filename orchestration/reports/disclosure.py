"""Statistical disclosure control for every published figure (docs/domain.md §8), in one place.

- Primary suppression: a count of 1 to 5 is shown as ``c``. Zero is a genuine zero and is shown.
- Secondary suppression: in a table whose rows add up to published totals (a filter with a ``Total``
  level), no total may have exactly one unknown among its parts and itself: another cell (the smallest
  non-zero part) is suppressed too, repeatedly, until no suppressed cell can be derived by differencing.
- No suppressed cell may be *bounded* to within 1 to 5 either: two suppressed parts of a total summing
  to 3 say each is 1 or 2. Every suppressed cell is at least 1, so each total's suppressed parts must
  leave every one of them room to be 6 or more; when they do not, another part is suppressed.
- A percentage is suppressed when its numerator or denominator is, and so is a numerator (a zero
  included) beside a suppressed denominator: "c pupils, 0 achieving" says every one of them failed.
- A revision keeps what the release before it suppressed: a count suppressed in the previous release for
  the same period stays suppressed unless it is now 11 or more (whatever it was, 1 to 5 if it was small,
  the change is then 6 or more children: not a small group found by differencing the two releases).
- National and regional figures are rounded to the nearest 10.
- Only the DfE's symbols appear: c (suppressed), x (unavailable), z (not applicable), low, u, k.

``attack`` is the check on one table; ``attack_release`` the blocking one, on every table of a release
together and against the release before it: a cell published in one table and suppressed in another is
matched by its period, filters and indicator; every total of every table gives an equation; the bounds
of each suppressed cell are narrowed from all of them at once (as an attacker with every table would);
any cell recovered, or bounded to within 1 to 5, or any small count showing makes the release disclosive.
"""

from __future__ import annotations

import math
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
# a count suppressed in the previous release of the same period is shown in a revision only from this
REVEAL_AFTER_SUPPRESSION = 2 * SMALL_MAX + 1


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


def bounds(
    values: np.ndarray, unknown: np.ndarray, lower: np.ndarray, equations: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """What an attacker can say of each unknown cell: the interval its value must lie in, narrowed from
    every equation (total = sum of parts) at once until nothing narrows. ``lower`` is what the attacker
    knows without any equation (1 for a suppressed count, 0 for one not available)."""
    lo = np.where(unknown, lower, values).astype("float64")
    hi = np.where(unknown, np.inf, values).astype("float64")
    for _ in range(100):
        before = (lo.copy(), hi.copy())
        for eq in equations:
            total, parts = eq[0], eq[1:]
            if unknown[total]:
                lo[total] = max(lo[total], lo[parts].sum())
                hi[total] = min(hi[total], hi[parts].sum())
            sum_lo = lo[parts].sum()
            finite = np.isfinite(hi[parts])
            finite_sum, infinite = hi[parts][finite].sum(), int((~finite).sum())
            for j in parts[unknown[parts]]:
                others_lo = sum_lo - lo[j]
                others_inf = infinite - (0 if math.isfinite(hi[j]) else 1)
                others_hi = math.inf if others_inf else finite_sum - (hi[j] if math.isfinite(hi[j]) else 0)
                hi[j] = min(hi[j], hi[total] - others_lo)
                lo[j] = max(lo[j], lo[total] - others_hi)
        if np.array_equal(before[0], lo) and np.array_equal(before[1], hi):
            break
    return lo, hi


def _exposed(lo: np.ndarray, hi: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """Suppressed cells an attacker pins down: exactly, or to within 1 to 5."""
    return hidden & ((hi <= SMALL_MAX) | (lo >= hi))


def _row_keys(frame: pd.DataFrame, spec: TableSpec) -> pd.Series:
    """Each row's identity across releases: its period and filters (one authority's tables: one geography)."""
    columns = [c for c in spec.keys if c in frame.columns]
    return frame[columns].astype(str).agg("|".join, axis=1)


GEOGRAPHY = ("geographic_level", "new_la_code", "region_code", "country_code")


def _carried_forward(frame: pd.DataFrame, spec: TableSpec, previous: pd.DataFrame | None) -> dict:
    """Per count column, the cells the previous release suppressed (by row identity) that must stay so."""
    if previous is None or previous.empty:
        return {}
    keys_now = _row_keys(frame, spec).to_numpy()
    keys_before = _row_keys(previous, spec)
    out = {}
    for column in spec.counts:
        if column not in previous.columns or column not in frame.columns:
            continue
        was_hidden = set(keys_before[previous[column].astype(str).eq(SUPPRESSED)].to_numpy())
        values = pd.to_numeric(frame[column].astype(str), errors="coerce").to_numpy(dtype="float64")
        out[column] = np.isin(keys_now, list(was_hidden)) & ~(values >= REVEAL_AFTER_SUPPRESSION)
    return out


def protect(
    frame: pd.DataFrame,
    spec: TableSpec,
    previous: pd.DataFrame | None = None,
    forced: dict[str, np.ndarray] | None = None,
) -> tuple[pd.DataFrame, int]:
    """The table as published (count and rate columns as text) and the number of cells suppressed.
    ``previous``: the same table as the release before published it, whose suppressions carry forward;
    ``forced``: per count column, cells to suppress whatever they are (another table suppresses them)."""
    frame = frame.reset_index(drop=True)
    equations = _equations(frame, spec)
    out = frame.copy()
    suppressed_cells = 0
    carried = _carried_forward(frame, spec, previous)
    for column, mask in (forced or {}).items():
        carried[column] = carried.get(column, False) | mask
    values = {c: frame[c].to_numpy(dtype="float64") for c in spec.counts}
    known = {c: ~np.isnan(v) for c, v in values.items()}
    hide = {
        c: known[c] & (((values[c] >= 1) & (values[c] <= SMALL_MAX)) | carried.get(c, False))
        for c in spec.counts
    }
    changed = True
    while changed:
        changed = False
        # a numerator beside a suppressed denominator says too much, whatever it is (0 included)
        for _, numerator, denominator in spec.rates:
            if numerator in hide and denominator in hide:
                extra = hide[denominator] & known[numerator] & ~hide[numerator]
                if extra.any():
                    hide[numerator] = hide[numerator] | extra
                    changed = True
        for column in spec.counts:  # secondary suppression until no suppressed cell can be pinned down
            v, k, h = values[column], known[column], hide[column]
            while True:
                lo, hi = bounds(v, h | ~k, np.where(h, 1.0, 0.0), equations)
                exposed = np.flatnonzero(_exposed(lo, hi, h))
                if not exposed.size:
                    break
                added = False
                for cell in exposed:
                    for eq in (e for e in equations if cell in e):
                        visible = [i for i in eq[1:] if not h[i] and k[i] and v[i] >= 2]
                        if not visible and not h[eq[0]] and k[eq[0]] and v[eq[0]] > 0:
                            visible = [eq[0]]
                        if visible:
                            h[min(visible, key=lambda i: v[i])] = True
                            added = changed = True
                            break
                    if added:
                        break
                if not added:
                    break  # nothing left to suppress: the audit will say so, and block the release
            hide[column] = h
    for column in spec.counts:
        v = values[column]
        suppressed_cells += int(hide[column].sum())
        text = np.where(np.isnan(v), NOT_AVAILABLE, pd.Series(v).map(lambda x: f"{x:.0f}"))
        out[column] = np.where(hide[column], SUPPRESSED, text)
    for column, numerator, denominator in spec.rates:
        num = frame[numerator].to_numpy(dtype="float64")
        den = frame[denominator].to_numpy(dtype="float64")
        with np.errstate(divide="ignore", invalid="ignore"):
            pct = np.round(100.0 * num / den, spec.decimals)
        text = pd.Series(pct).map(lambda v: f"{v:.{spec.decimals}f}")
        cell = np.where(np.isnan(den) | (den == 0), NOT_APPLICABLE, text)
        cell = np.where(hide.get(numerator, False) | hide.get(denominator, False), SUPPRESSED, cell)
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


def _stray_and_small(frame: pd.DataFrame, spec: TableSpec) -> list[str]:
    problems = []
    for column in (*spec.counts, *(r[0] for r in spec.rates)):
        if column not in frame.columns:
            continue
        text = frame[column].astype(str)
        numeric = pd.to_numeric(text, errors="coerce")
        stray = text[numeric.isna() & ~text.isin(SYMBOLS)]
        problems += [
            f"{column} row {i}: {v!r} is neither a number nor a DfE symbol" for i, v in stray.items()
        ]
    for column in spec.counts:
        if column not in frame.columns:
            continue
        values = pd.to_numeric(frame[column].astype(str), errors="coerce").to_numpy(dtype="float64")
        small = np.where((values >= 1) & (values <= SMALL_MAX))[0]
        problems += [f"{column} row {i}: a count of {values[i]:.0f} is published" for i in small]
    for _, numerator, denominator in spec.rates:
        if numerator not in frame.columns or denominator not in frame.columns:
            continue  # a count used only for the rate, not published
        beside = (
            frame[denominator].astype(str).eq(SUPPRESSED)
            & pd.to_numeric(frame[numerator].astype(str), errors="coerce").notna()
        )
        problems += [
            f"{numerator} row {i}: {frame[numerator].iloc[i]} published beside a suppressed {denominator}"
            for i in np.flatnonzero(beside.to_numpy())
        ]
    return problems


def attack(published: pd.DataFrame, spec: TableSpec) -> list[str]:
    """Every way one published table discloses: small counts showing, symbols outside the DfE's list, a
    numerator beside a suppressed denominator, and suppressed cells recovered or bounded to within 1 to 5
    from its totals, described for the person fixing it."""
    return [p.removeprefix("table: ") for p in attack_release({"table": (published, spec)})]


def cell_keys(frame: pd.DataFrame, spec: TableSpec, indicator: str) -> list[str]:
    """A count cell's identity in any table of a release: what it counts (its indicator, by its label),
    its period, the filters it is not a total of (a Total level is no filter at all), and its geography
    when that is not the authority itself (a national or regional comparator row)."""
    key = pd.Series(f"indicator={indicator}", index=frame.index)
    if "time_period" in frame.columns:
        key = key + "|time_period=" + frame["time_period"].astype(str)
    if "geographic_level" in frame.columns:
        place = "|" + frame["geographic_level"].astype(str)
        for column in GEOGRAPHY[1:]:
            if column in frame.columns:
                place = place + "," + frame[column].astype(str)
        key = key + place.where(frame["geographic_level"].astype(str).ne("Local authority"), "")
    for column in spec.keys:
        if column == "time_period" or column not in frame.columns:
            continue
        text = frame[column].astype(str)
        part = f"|{column}=" + text
        if column in spec.additive:
            part = part.where(~text.eq(TOTAL), "")
        key = key + part
    return key.tolist()


def attack_release(
    tables: dict[str, tuple[pd.DataFrame, TableSpec]],
    previous: dict[str, tuple[pd.DataFrame, TableSpec]] | None = None,
    labels: dict[str, dict[str, str]] | None = None,
) -> list[str]:
    """The blocking audit: every table of a release attacked together, and against the release before it
    (``previous``, same table names). A cell is one cell wherever it is published: two tables' cells are
    the same when their indicators have the same label (``labels``: table -> column -> label, as the
    .meta.csv files give them) and the same period, geography and filters."""
    problems = []
    index: dict[str, int] = {}
    shown: list[float] = []
    suppressed: list[bool] = []
    where: list[str] = []
    equations: list[np.ndarray] = []
    for name, (frame, spec) in tables.items():
        frame = frame.reset_index(drop=True)
        problems += [f"{name}: {p}" for p in _stray_and_small(frame, spec)]
        table_equations = _equations(frame, spec)
        for column in spec.counts:
            if column not in frame.columns:
                continue
            text = frame[column].astype(str)
            numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64")
            ids = []
            for row, (key, value, hidden) in enumerate(
                zip(
                    cell_keys(frame, spec, (labels or {}).get(name, {}).get(column) or f"{name}.{column}"),
                    numbers,
                    text.eq(SUPPRESSED),
                    strict=True,
                )
            ):
                cell = index.get(key)
                if cell is None:
                    cell = index[key] = len(shown)
                    shown.append(value)
                    suppressed.append(bool(hidden))
                    where.append(f"{name}: {column} row {row}")
                elif hidden and not math.isnan(shown[cell]):
                    problems.append(
                        f"{name}: {column} row {row}: suppressed, but {where[cell]} publishes it: {shown[cell]:.0f}"
                    )
                elif not hidden and not math.isnan(value) and suppressed[cell]:
                    problems.append(
                        f"{where[cell]}: suppressed, but {name}: {column} row {row} publishes it: {value:.0f}"
                    )
                    shown[cell], suppressed[cell] = value, False
                elif not hidden and not math.isnan(value):
                    shown[cell] = value
                ids.append(cell)
            ids = np.array(ids)
            equations += [ids[eq] for eq in table_equations]
    values = np.array(shown, dtype="float64")
    hidden = np.array(suppressed, dtype=bool)
    unknown = np.isnan(values) | hidden
    lo, hi = bounds(values, unknown, np.where(hidden, 1.0, 0.0), equations)
    for cell in np.flatnonzero(_exposed(lo, hi, hidden)):
        problems.append(
            f"{where[cell]}: suppressed, but the totals give {lo[cell]:.0f}"
            if lo[cell] >= hi[cell]
            else f"{where[cell]}: suppressed, but the totals bound it to {lo[cell]:.0f} to {hi[cell]:.0f}"
        )
    for name, (before, spec) in (previous or {}).items():
        if name not in tables:
            continue
        now = tables[name][0].reset_index(drop=True)
        for column, kept in _carried_forward(now, spec, before).items():
            values_now = pd.to_numeric(now[column].astype(str), errors="coerce")
            problems += [
                f"{name}: {column} row {i}: suppressed in the previous release, now {values_now.iloc[i]:.0f}:"
                " the two releases differenced give a small group"
                for i in np.flatnonzero(kept & values_now.notna().to_numpy())
            ]
    return problems
