"""A synthetic region: member authorities with their own codes, seeds and sizes, whose children partly
overlap (moved between members, placed or at school across a border), each written as its own landing
folder with its own ground truth, the region-wide true child of every child beside the local one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from orchestration.synthetic.authority import MemberOf, default_as_of, generate


@dataclass(frozen=True)
class Member:
    la_number: str  # the old-style DfE number: UPN characters 2-4, the CIN census LEA
    ons_code: str
    name: str

    def env(self) -> dict[str, str]:
        """The settings a member's own pipeline runs with (returns/common.py Authority)."""
        return {
            "WHOLECHILD_LA_NUMBER": self.la_number,
            "WHOLECHILD_LA_ONS_CODE": self.ons_code,
            "WHOLECHILD_LA_NAME": self.name,
            "WHOLECHILD_REGION_CODE": "E12000005",
            "WHOLECHILD_REGION_NAME": "West Midlands",
        }


# five West Midlands neighbours, by their real codes (the postcodes the generator draws from are theirs); the
# data is synthetic, and each name says so
MEMBERS = (
    Member("332", "E08000027", "Synthetic Dudley"),
    Member("333", "E08000028", "Synthetic Sandwell"),
    Member("335", "E08000030", "Synthetic Walsall"),
    Member("336", "E08000031", "Synthetic Wolverhampton"),
    Member("330", "E08000025", "Synthetic Birmingham"),
)
NHS_BLOCK = 1_000_000 // len(MEMBERS)  # serials of the 999 test range each member draws from
DEFAULT_SCALES = (0.3, 0.1, 0.15, 0.2, 0.5)
DEFAULT_OVERLAP = 0.03  # of a member's children, the share that are also another member's


def member_home(root: Path, member: Member) -> Path:
    return root / "members" / member.la_number


def generate_members(
    root: Path,
    *,
    scales: tuple[float, ...] = DEFAULT_SCALES,
    seed: int = 42,
    overlap: float = DEFAULT_OVERLAP,
    faults: float = 0.02,
    as_of: date | None = None,
) -> Iterator[tuple[Member, int]]:
    """Write every member's landing folder and ground truth under ``root/members/<LA number>``, one member
    at a time: each member and the children it holds are yielded once they are written, so its pipeline can
    start while the next is generated. Member k (after the first) shares ``overlap`` of its children with
    member k-1 and, as many again, with the first member (the region's largest placer across borders)."""
    if len(scales) != len(MEMBERS):
        raise ValueError(f"give {len(MEMBERS)} scales, one per member; got {len(scales)}")
    as_of = as_of or default_as_of()
    truths: list[pd.DataFrame] = []
    for k, (member, scale) in enumerate(zip(MEMBERS, scales, strict=True)):
        shared = None
        if k > 0:
            rng = np.random.default_rng([seed, 100 + k])
            expected = int(overlap * len(truths[k - 1]) * scale / scales[k - 1])
            sources = [truths[k - 1]] + ([truths[0]] if k > 1 else [])
            shared = pd.concat(
                [_known_in_window(t, as_of).sample(n=expected, random_state=rng) for t in sources],
                ignore_index=True,
            ).drop_duplicates("region_child")
        home = member_home(root, member)
        others = [m.la_number for m in MEMBERS if m != member]
        result = generate(
            home / "landing",
            truth_out=home / "ground_truth",
            scale=scale,
            seed=seed + k,
            faults=faults,
            as_of=as_of,
            member=MemberOf(
                {"name": member.name, "la_number": member.la_number, "ons_code": member.ons_code,
                 "other_la_numbers": others},
                (k * NHS_BLOCK, (k + 1) * NHS_BLOCK),
                shared,
            ),
        )  # fmt: skip
        truths.append(pd.read_csv(home / "ground_truth" / "children.csv", dtype=str, keep_default_na=False))
        yield member, result.children


def _known_in_window(truth: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Children living in the member at some time in the six years to the extract date, not yet 18 at its
    start: those whose records a neighbour might also hold."""
    start = pd.Timestamp(as_of) - pd.DateOffset(years=6)
    dob = pd.to_datetime(truth.dob)
    leave = pd.to_datetime(truth.leave.replace("", None))
    alive = (leave.isna() | (leave > start)) & (dob > start - pd.DateOffset(years=18))
    return truth[alive.to_numpy() & truth.is_uasc.ne("True").to_numpy()]
