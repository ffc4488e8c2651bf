"""Faults that real extracts carry, injected at a chosen rate and logged to the ground truth.

Record faults change a value in one row (a typo, a nickname, a swapped day and month, a missing or
mistyped identifier, an old postcode) or repeat a row. File faults change how a whole file is written
(encoding, byte-order mark, renamed or reordered headers, an extra column, Excel serial dates, blank rows,
a truncated last line). ``rate`` 0 gives clean files.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from orchestration.identifiers import UPN_ALPHABET
from orchestration.synthetic.population import DATA_DIR

# how a person, rather than a system, might head the column
HUMAN_HEADERS = {
    "nhs_number": "NHS Number",
    "forename": "First Name",
    "surname": "Last Name",
    "date_of_birth": "Date of Birth",
    "postcode": "Post Code",
    "sex": "Gender",
    "assessment_date": "Assessment Date",
    "check_date": "Date of Check",
    "referral_date": "Referral Date",
    "completed_date": "Date Completed",
}
EXCEL_EPOCH = np.datetime64("1899-12-30", "D")


class FaultLog:
    """Collects every injected fault: dataset, file, record, column, kind, value before and after."""

    def __init__(self, rng: np.random.Generator, rate: float, cfg: dict) -> None:
        self.rng = rng
        self.rate = rate
        self.weights = cfg["record"]
        self.file_kinds = list(cfg["files"])
        self._parts: list[pd.DataFrame] = []
        nick = pd.read_csv(DATA_DIR / "nicknames.csv", dtype=str)
        self.nicknames = nick.groupby("name").variant.first()

    # --- bookkeeping ------------------------------------------------------------------------------

    def pick(self, n: int, kind: str, rng: np.random.Generator | None = None) -> np.ndarray:
        """Which of ``n`` records get the fault; ``rng``: a generator of their own, for a table drawn after
        the others so that theirs stay as they were."""
        if self.rate <= 0 or n == 0:
            return np.zeros(n, dtype=bool)
        return (rng or self.rng).random(n) < min(1.0, self.rate * self.weights[kind])

    def record(
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
                        "file": "",
                        "record_id": record_ids,
                        "column": column,
                        "fault": kind,
                        "original": before,
                        "injected": after,
                    }
                )
            )

    def record_file(self, dataset: str, file: str, kind: str, detail: str) -> None:
        self._parts.append(
            pd.DataFrame(
                {
                    "dataset": [dataset],
                    "file": [file],
                    "record_id": [""],
                    "column": [""],
                    "fault": [kind],
                    "original": [""],
                    "injected": [detail],
                }
            )
        )

    def frame(self) -> pd.DataFrame:
        if not self._parts:
            return pd.DataFrame(
                columns=["dataset", "file", "record_id", "column", "fault", "original", "injected"]
            )
        return pd.concat(self._parts, ignore_index=True)

    # --- record faults -------------------------------------------------------------------------

    def person_fields(
        self,
        frame: pd.DataFrame,
        dataset: str,
        id_col: str,
        roles: dict[str, str],
        date_format: str | None = None,
    ) -> None:
        """Apply the record faults that fit the columns present; ``roles`` maps forename, surname, dob,
        nhs_number, upn, postcode to the frame's columns (``_previous_postcode`` enables stale postcodes)."""
        ids = frame[id_col].to_numpy().astype(str)
        if "forename" in roles:
            self._typo(frame, dataset, ids, roles["forename"])
            self._nickname(frame, dataset, ids, roles["forename"])
        if "surname" in roles:
            self._typo(frame, dataset, ids, roles["surname"])
        if "forename" in roles and "surname" in roles:
            self._transpose(frame, dataset, ids, roles["forename"], roles["surname"])
        if "dob" in roles and date_format:
            self._swap_day_month(frame, dataset, ids, roles["dob"], date_format)
        if "nhs_number" in roles:
            self._blank(frame, dataset, ids, roles["nhs_number"], "missing_nhs_number")
            self._wrong_digit(frame, dataset, ids, roles["nhs_number"])
        if "upn" in roles:
            self._blank(frame, dataset, ids, roles["upn"], "missing_upn")
            self._wrong_upn_letter(frame, dataset, ids, roles["upn"])
        if "postcode" in roles and "_previous_postcode" in frame:
            hit = self.pick(len(frame), "stale_postcode") & (frame["_previous_postcode"].to_numpy() != "")
            before = frame.loc[hit, roles["postcode"]].to_numpy().astype(str)
            after = frame.loc[hit, "_previous_postcode"].to_numpy().astype(str)
            frame.loc[hit, roles["postcode"]] = after
            self.record(dataset, ids[hit], roles["postcode"], "stale_postcode", before, after)

    def _changed(
        self,
        frame: pd.DataFrame,
        dataset: str,
        ids: np.ndarray,
        column: str,
        kind: str,
        hit: np.ndarray,
        after: np.ndarray,
    ) -> None:
        before = frame.loc[hit, column].to_numpy().astype(str)
        changed = after != before
        rows = frame.index[hit][changed]
        frame.loc[rows, column] = after[changed]
        self.record(dataset, ids[hit][changed], column, kind, before[changed], after[changed])

    def _typo(self, frame: pd.DataFrame, dataset: str, ids: np.ndarray, column: str) -> None:
        """Swap two adjacent letters, drop one, or double one, as keying errors do."""
        values = frame[column].fillna("").to_numpy().astype(str)
        hit = self.pick(len(frame), "name_typo") & (np.char.str_len(values) >= 4)
        words = values[hit]
        pos = (1 + self.rng.random(len(words)) * (np.char.str_len(words) - 2)).astype(int)
        how = self.rng.integers(0, 3, len(words))
        out = [
            w[:p] + w[p + 1] + w[p] + w[p + 2 :]
            if h == 0
            else (w[:p] + w[p + 1 :] if h == 1 else w[:p] + w[p] + w[p:])
            for w, p, h in zip(words, pos, how, strict=True)
        ]
        self._changed(frame, dataset, ids, column, "name_typo", hit, np.array(out, dtype=object).astype(str))

    def _nickname(self, frame: pd.DataFrame, dataset: str, ids: np.ndarray, column: str) -> None:
        values = frame[column].fillna("").astype(str)
        variant = values.map(self.nicknames)
        hit = self.pick(len(frame), "nickname") & variant.notna().to_numpy()
        self._changed(frame, dataset, ids, column, "nickname", hit, variant[hit].to_numpy().astype(str))

    def _transpose(self, frame: pd.DataFrame, dataset: str, ids: np.ndarray, fore: str, sur: str) -> None:
        hit = self.pick(len(frame), "transposed_names")
        before_f = frame.loc[hit, fore].to_numpy().astype(str)
        before_s = frame.loc[hit, sur].to_numpy().astype(str)
        frame.loc[hit, fore] = before_s
        frame.loc[hit, sur] = before_f
        self.record(
            dataset,
            ids[hit],
            f"{fore}+{sur}",
            "transposed_names",
            np.char.add(np.char.add(before_f, " "), before_s),
            np.char.add(np.char.add(before_s, " "), before_f),
        )

    def _swap_day_month(
        self, frame: pd.DataFrame, dataset: str, ids: np.ndarray, column: str, fmt: str
    ) -> None:
        parsed = pd.to_datetime(frame[column], format=fmt, errors="coerce")
        hit = (
            self.pick(len(frame), "dob_day_month_swap")
            & (parsed.dt.day <= 12).to_numpy()
            & (parsed.dt.day != parsed.dt.month).to_numpy()
        )
        sub = parsed[hit]
        swapped = pd.to_datetime(
            pd.DataFrame({"year": sub.dt.year, "month": sub.dt.day, "day": sub.dt.month})
        )
        self._changed(
            frame, dataset, ids, column, "dob_day_month_swap", hit, swapped.dt.strftime(fmt).to_numpy()
        )

    def _blank(self, frame: pd.DataFrame, dataset: str, ids: np.ndarray, column: str, kind: str) -> None:
        hit = self.pick(len(frame), kind) & (frame[column].fillna("").to_numpy() != "")
        self._changed(frame, dataset, ids, column, kind, hit, np.full(int(hit.sum()), ""))

    def _wrong_digit(self, frame: pd.DataFrame, dataset: str, ids: np.ndarray, column: str) -> None:
        values = frame[column].fillna("").astype(str)
        hit = self.pick(len(frame), "wrong_nhs_check_digit") & values.str.fullmatch(r"\d{10}").to_numpy()
        before = values[hit].to_numpy().astype(str)
        last = np.array([int(v[-1]) for v in before], dtype=int)
        new_last = (last + 1 + self.rng.integers(0, 8, len(before))) % 10
        self._changed(
            frame,
            dataset,
            ids,
            column,
            "wrong_nhs_check_digit",
            hit,
            np.char.add(before.astype("U9"), new_last.astype(str)),
        )

    def _wrong_upn_letter(self, frame: pd.DataFrame, dataset: str, ids: np.ndarray, column: str) -> None:
        values = frame[column].fillna("").astype(str)
        hit = self.pick(len(frame), "wrong_upn_check_letter") & (values.str.len() == 13).to_numpy()
        before = values[hit].to_numpy().astype(str)
        letters = np.array(list(UPN_ALPHABET))
        first = np.array([v[0] for v in before])
        new = letters[(np.searchsorted(letters, first) + 1 + self.rng.integers(0, 20, len(before))) % 23]
        self._changed(
            frame,
            dataset,
            ids,
            column,
            "wrong_upn_check_letter",
            hit,
            np.char.add(new, np.array([v[1:] for v in before], dtype=str)),
        )

    def duplicate_rows(self, frame: pd.DataFrame, dataset: str, id_col: str) -> pd.DataFrame:
        """Repeat some rows exactly, as double exports do; the copies sit next to their originals."""
        hit = self.pick(len(frame), "duplicate_row")
        ids = frame.loc[hit, id_col].to_numpy().astype(str)
        self.record(dataset, ids, "*", "duplicate_row", np.full(len(ids), ""), np.full(len(ids), ""))
        return frame.loc[frame.index.repeat(np.where(hit, 2, 1))].reset_index(drop=True)

    # --- file faults ---------------------------------------------------------------------------

    def choose_file_faults(self, files: list[str]) -> dict[str, str]:
        """Which files get a file-level fault, and which: about 2.5 x rate of all files."""
        if self.rate <= 0:
            return {}
        hit = self.rng.random(len(files)) < min(1.0, 2.5 * self.rate)
        kinds = self.rng.choice(self.file_kinds, len(files))
        return {f: k for f, k, h in zip(files, kinds, hit, strict=True) if h}


def excel_serial(text_dates: pd.Series, fmt: str) -> pd.Series:
    """Dates as the whole-number day counts Excel shows when a date cell is formatted as a number."""
    parsed = pd.to_datetime(text_dates, format=fmt, errors="coerce")
    serial = (parsed.to_numpy().astype("datetime64[D]") - EXCEL_EPOCH).astype(np.int64)
    return pd.Series(np.where(parsed.isna(), text_dates, serial.astype(str)), index=text_dates.index)
