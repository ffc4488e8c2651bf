"""The returns team's in-year worklist on two consecutive monthly extracts, with the real DfE validators:
a fault fixed between them is marked fixed, one made between them new, and everything else still open."""

from datetime import date

import duckdb
import pandas as pd
import pytest

from orchestration.identifiers import upn_check_letter
from orchestration.returns import worklist
from orchestration.settings import Paths
from orchestration.synthetic import generate

pytestmark = pytest.mark.integration


def _wrong_letter(upn: str) -> str:
    """The UPN with a check letter that is not its own (the 903 pre-check WC903-01 and the validators say so)."""
    body = upn[1:]
    return next(letter for letter in "ABCDEFGH" if letter != upn_check_letter(body)) + body


def _ingest(paths: Paths) -> None:
    from orchestration.ingest.service import ingest

    with duckdb.connect(str(paths.vault_db)) as con:
        ingest(con, paths)


def test_the_in_year_worklist_marks_findings_new_still_open_and_fixed_month_to_month(tmp_path, monkeypatch):
    monkeypatch.setenv("WHOLECHILD_HOME", str(tmp_path / "home"))
    paths = Paths.from_env().ensure()
    paths.export_env()
    generate(paths.landing, scale=0.03, seed=11, faults=0, as_of=date(2026, 10, 31))
    october = paths.landing / "social_care" / "ssd" / "2026-10-31"
    people = pd.read_csv(october / "ssd_person.csv", dtype=str, keep_default_na=False)
    episodes = pd.read_csv(october / "ssd_cla_episodes.csv", dtype=str, keep_default_na=False)
    # two children looked after in the year so far (2026/27), each with a UPN
    in_year = episodes[
        episodes.clae_cla_episode_ceased_date.eq("") | episodes.clae_cla_episode_ceased_date.ge("2026-04-01")
    ]
    with_upn = set(people.loc[people.pers_upn.str.len().eq(13), "pers_person_id"])
    first, second = sorted(set(in_year.clae_person_id) & with_upn)[:2]

    def with_wrong_upn(child: str) -> pd.DataFrame:
        changed = people.copy()
        mine = changed.pers_person_id.eq(child)
        changed.loc[mine, "pers_upn"] = changed.loc[mine, "pers_upn"].map(_wrong_letter)
        return changed

    # October's extract: the first child's UPN mistyped
    with_wrong_upn(first).to_csv(october / "ssd_person.csv", index=False)
    _ingest(paths)
    october_list = worklist.build(paths)
    assert (october_list.year, october_list.extract, october_list.compared_with) == (
        2027,
        date(2026, 10, 31),
        None,
    )
    lines = october_list.lines
    assert set(lines.status) == {"new"}
    upn = lines.field.str.contains("UPN")
    assert (
        lines[upn & lines.child.eq(first)].shape[0] >= 1 and not lines[upn & lines.child.eq(second)].shape[0]
    )
    assert lines.loc[lines.child.eq(first) & upn, "source"].str.contains("ssd_person.pers_upn").all()

    # November's: the first corrected at source, the second mistyped
    november = paths.landing / "social_care" / "ssd" / "2026-11-30"
    november.mkdir(parents=True)
    with_wrong_upn(second).to_csv(november / "ssd_person.csv", index=False)
    _ingest(paths)
    november_list = worklist.build(paths)
    assert november_list.compared_with == date(2026, 10, 31)
    marked = november_list.lines
    key = ["return", "rule", "child", "table", "field"]
    status = {tuple(k): s for k, s in zip(marked[key].to_numpy(), marked.status, strict=True)}
    fixed = {k for k, s in status.items() if s == "fixed"}
    new = {k for k, s in status.items() if s == "new"}
    before = {tuple(k) for k in lines[key].to_numpy()}
    # what was wrong with the first child's UPN is fixed, and only that
    assert fixed == {k for k in before if k[2] == first and "UPN" in k[4]}
    # what is wrong with the second child's UPN is new, and only that
    assert new and all(k[2] == second and "UPN" in k[4] for k in new)
    # everything else found in October is still open
    assert {k for k, s in status.items() if s == "still open"} == before - fixed
    assert (november_list.folder.parent / "latest").resolve() == november_list.folder
    page = (november_list.folder / "worklist.html").read_text(encoding="utf-8")
    assert f"{len(new)} new, {len(before - fixed)} still open, {len(fixed)} fixed" in page
