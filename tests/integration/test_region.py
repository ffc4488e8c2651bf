"""The regional demo at a small scale: five synthetic authorities whose children partly overlap each run
their own pipeline and send their marts under the regional key; the region builds its marts on DuckDB and
on Spark (every dbt test passing on each, every table the same row for row), publishes them under
disclosure control, joins the same child across members against the ground truth, and holds none of a
member's private values."""

from types import SimpleNamespace

import duckdb
import pandas as pd
import pytest

from orchestration.region import build as region_build
from orchestration.region.evaluate import cross_linkage, held_values, member_truth, scan_inbox
from orchestration.region.export import regional_key
from orchestration.region.run import demo
from orchestration.region.synthetic import MEMBERS, member_home
from orchestration.settings import Paths

pytestmark = pytest.mark.integration
SCALES = (0.02, 0.02, 0.02, 0.02, 0.03)


@pytest.fixture(scope="module")
def region(tmp_path_factory, monkeypatch_module):
    root = tmp_path_factory.mktemp("region") / "region"
    monkeypatch_module.delenv("WHOLECHILD_REGIONAL_KEY", raising=False)
    assert demo(root, scales=SCALES, seed=42, engines=("duckdb", "spark")) == 0
    return root


@pytest.fixture(scope="module")
def monkeypatch_module():
    patch = pytest.MonkeyPatch()
    yield patch
    patch.undo()


def test_the_same_child_is_joined_across_members_as_the_ground_truth_says(region):
    key = regional_key(region, demo=True)
    truths = pd.concat([member_truth(region, m, key) for m in MEMBERS], ignore_index=True)
    for engine in ("duckdb", "spark"):
        linkage = cross_linkage(truths, region, engine)
        assert linkage.true_pairs > 100  # the members do share children
        assert linkage.precision >= 0.99 and linkage.f1 >= 0.99, (engine, linkage)


def test_every_regional_table_is_the_same_on_duckdb_and_spark_and_a_difference_would_show(region, tmp_path):
    import shutil

    compared = region_build.compare_engines(region)
    assert set(compared) == {
        "int_region_children", "region_children", "region_children_known_across_members",
        "region_comparison", "region_looked_after_across_borders", "region_members",
    }  # fmt: skip
    assert all(rows > 0 and differ == 0 for rows, differ in compared.values()), compared
    # a copy whose Spark output lost one row is seen to differ
    copy = tmp_path / "copy"
    shutil.copytree(region / "spark", copy / "spark")
    shutil.copy(region / "region.duckdb", copy / "region.duckdb")
    folder = copy / "spark" / "warehouse" / "region.db" / "region_members"
    rows = duckdb.sql(f"select * from read_parquet('{folder}/*.parquet')").df()
    for part in folder.glob("*.parquet"):
        part.unlink()
    duckdb.from_df(rows.iloc[1:]).write_parquet(str(folder / "part-0.parquet"))
    assert region_build.compare_engines(copy)["region_members"] == (5, 1)


def test_no_private_value_of_a_member_reaches_the_region_and_the_scan_would_see_one(region, tmp_path):
    held = held_values(region, MEMBERS)  # gathered once, for both scans
    scan = scan_inbox(region, MEMBERS, region / "inbox", held)
    assert scan.values_held > 100_000 and scan.columns_scanned > 50
    assert scan.found == []
    for mart in (region / "inbox").iterdir():  # what is sent: the regional keys, never the person_key
        columns = duckdb.sql(f"select * from read_parquet('{mart}/**/*.parquet') limit 0").columns
        assert "person_key" not in columns and "regional_key" in columns
    # the scan can fail: a member's local person_key in a file sent to the region is found
    planted = tmp_path / "inbox" / "dim_children" / "authority=999"
    planted.mkdir(parents=True)
    with duckdb.connect(str(Paths(member_home(region, MEMBERS[0])).vault_db), read_only=True) as con:
        local = con.execute("select person_key from identity.record_keys limit 1").fetchone()[0]
    duckdb.sql(f"copy (select '{local}' as regional_key) to '{planted / 'part-0.parquet'}' (format parquet)")
    assert scan_inbox(region, MEMBERS, tmp_path / "inbox", held).found == [("dim_children.regional_key", 1)]


def test_the_published_regional_tables_are_disclosure_controlled_and_add_up(region):
    members = region_build.read_published(region, "region_members").set_index("authority")
    assert set(members.index) == {m.la_number for m in MEMBERS}
    for name in region_build.PUBLISHED:
        table = region_build.read_published(region, name)
        for column in region_build.PUBLISHED[name].counts:
            numbers = pd.to_numeric(table[column], errors="coerce")
            assert not numbers.between(1, 5).any(), (name, column)  # never a count of 1 to 5
            assert table[column][numbers.isna()].isin(["c", "x"]).all()
            assert (numbers.dropna() % 1 == 0).all()
    # against the region's own marts: the children each member sent, as exported
    with duckdb.connect(str(region / "region.duckdb"), read_only=True) as con:
        sent = dict(con.execute("select authority, count(*) from stg_region__children group by 1").fetchall())
        both = con.execute("select count(*) from region_children where authorities > 1").fetchone()[0]
    assert {a: int(n) for a, n in members.children.items()} == sent
    assert both > 50
    pairs = region_build.read_published(region, "region_children_known_across_members")
    # known to both, as each member of a pair sees it: the same number both ways round
    forward = pairs.set_index(["authority", "other_authority"]).children_known_to_both
    backward = pairs.set_index(["other_authority", "authority"]).children_known_to_both
    backward.index.names = forward.index.names
    assert forward.sort_index().equals(backward.sort_index())


def test_a_shared_child_has_one_nhs_number_in_the_region_and_members_draw_apart(region):
    truths = pd.concat(
        [
            pd.read_csv(member_home(region, m) / "ground_truth" / "children.csv", dtype=str).assign(
                member=m.la_number
            )
            for m in MEMBERS
        ]
    )
    per_child = truths.groupby("region_child").agg(
        members=("member", "nunique"), numbers=("nhs_number", "nunique")
    )
    assert (per_child.members > 1).sum() > 20  # children shared between members
    assert (per_child.numbers == 1).all()  # one child, one NHS number, in every member
    per_number = truths.groupby("nhs_number").region_child.nunique()
    assert (per_number == 1).all()  # and no two children share one by chance


def test_a_member_that_does_not_publish_is_named_and_nothing_regional_is_built(tmp_path, monkeypatch, capsys):
    from orchestration.region import run

    def generated(root, **_):
        yield from ((member, 100) for member in MEMBERS)

    ran, sent = [], []

    def member_run(root, member, *, demo=True):
        ran.append(member)
        return run.MemberRun(
            member, 0.0, 1 if member == MEMBERS[2] else 0, member_home(root, member) / "run.log"
        )

    monkeypatch.setattr(run, "generate_members", generated)
    monkeypatch.setattr(run, "run_member", member_run)

    def export(paths, la_number, *_):
        sent.append(la_number)
        return SimpleNamespace(
            children=1, by_nhs_number=1, sharing_a_key=0, not_keyed=0, rows={"fct_child_outcomes_by_year": 1}
        )

    monkeypatch.setattr(run, "export_member", export)
    monkeypatch.setattr(run.region_build, "build", lambda *_: pytest.fail("the region was built"))
    assert demo(tmp_path / "r", scales=(0.01,) * 5, seed=1, jobs=3) == 1
    assert sorted(ran, key=MEMBERS.index) == list(MEMBERS)  # every member ran, three at a time
    assert sent == [m.la_number for m in MEMBERS if m != MEMBERS[2]]
    out, err = capsys.readouterr()
    assert f"Not built: {MEMBERS[2].name} did not publish." in err
    assert "FAILED (see" in out and "3 at a time" in out
