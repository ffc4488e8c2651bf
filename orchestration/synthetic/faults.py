"""Faults that real extracts carry, injected at a chosen rate and logged to the ground truth."""

from __future__ import annotations

import numpy as np
import pandas as pd


class FaultLog:
    """Collects every injected fault: dataset, record, column, kind, value before and after."""

    def __init__(self, rng: np.random.Generator, rate: float) -> None:
        self.rng = rng
        self.rate = rate
        self._parts: list[pd.DataFrame] = []

    def _pick(self, n: int, share: float) -> np.ndarray:
        if self.rate <= 0 or n == 0:
            return np.zeros(n, dtype=bool)
        return self.rng.random(n) < min(1.0, self.rate * share)

    def _record(
        self,
        dataset: str,
        record_ids: np.ndarray,
        column: str,
        kind: str,
        before: np.ndarray,
        after: np.ndarray,
    ) -> None:
        if len(record_ids):
            self._parts.append(
                pd.DataFrame(
                    {
                        "dataset": dataset,
                        "record_id": record_ids,
                        "column": column,
                        "fault": kind,
                        "original": before,
                        "injected": after,
                    }
                )
            )

    def typo(self, frame: pd.DataFrame, dataset: str, id_column: str, column: str, share: float) -> None:
        """Swap two adjacent letters of a name, as keying errors do."""
        hit = self._pick(len(frame), share) & (frame[column].str.len() >= 3).to_numpy()
        if not hit.any():
            return
        before = frame.loc[hit, column].to_numpy().astype(str)
        pos = (self.rng.random(hit.sum()) * (np.char.str_len(before) - 1)).astype(int)
        swapped = [w[:p] + w[p + 1] + w[p] + w[p + 2 :] for w, p in zip(before, pos, strict=True)]
        after = np.array(
            [s.capitalize() if w[:1].isupper() else s for s, w in zip(swapped, before, strict=True)]
        )
        changed = after != before
        frame.loc[frame.index[hit][changed], column] = after[changed]
        self._record(
            dataset,
            frame.loc[hit, id_column].to_numpy()[changed],
            column,
            "name_typo",
            before[changed],
            after[changed],
        )

    def blank(self, frame: pd.DataFrame, dataset: str, id_column: str, column: str, share: float) -> None:
        hit = self._pick(len(frame), share) & (frame[column] != "").to_numpy()
        before = frame.loc[hit, column].to_numpy().astype(str)
        frame.loc[hit, column] = ""
        self._record(
            dataset,
            frame.loc[hit, id_column].to_numpy(),
            column,
            "missing_identifier",
            before,
            np.full(len(before), ""),
        )

    def wrong_check_digit(
        self, frame: pd.DataFrame, dataset: str, id_column: str, column: str, share: float
    ) -> None:
        """Change the last digit of a numeric identifier, so that it fails its check."""
        values = frame[column].astype(str)
        hit = self._pick(len(frame), share) & values.str.fullmatch(r"\d{10}").to_numpy()
        before = values[hit].to_numpy()
        last = np.array([int(v[-1]) for v in before], dtype=int) if len(before) else np.array([], dtype=int)
        after = (
            np.char.add(
                np.array([v[:-1] for v in before], dtype=str),
                ((last + 1 + self.rng.integers(0, 8, len(before))) % 10).astype(str),
            )
            if len(before)
            else before
        )
        frame.loc[hit, column] = after
        self._record(
            dataset, frame.loc[hit, id_column].to_numpy(), column, "wrong_check_digit", before, after
        )

    def duplicate_rows(self, frame: pd.DataFrame, dataset: str, id_column: str, share: float) -> pd.DataFrame:
        """Repeat some rows exactly, as double exports do; the copies sit next to their originals."""
        hit = self._pick(len(frame), share)
        ids = frame.loc[hit, id_column].to_numpy()
        self._record(dataset, ids, "*", "duplicate_row", np.full(len(ids), ""), np.full(len(ids), ""))
        repeats = np.where(hit, 2, 1)
        return frame.loc[frame.index.repeat(repeats)].reset_index(drop=True)

    def frame(self) -> pd.DataFrame:
        if not self._parts:
            return pd.DataFrame(columns=["dataset", "record_id", "column", "fault", "original", "injected"])
        return pd.concat(self._parts, ignore_index=True)
