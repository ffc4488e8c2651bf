"""The marts on a synthetic authority: cohort counts reconciled with a second, simpler computation straight
from the ingested tables, and the directions the national statistics show."""

from datetime import date

import dagster as dg
import duckdb
import pandas as pd
import pytest

from orchestration.settings import Paths
from orchestration.synthetic import generate

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def authority(tmp_path_factory):
    patch = pytest.MonkeyPatch()
    patch.setenv("WHOLECHILD_HOME", str(tmp_path_factory.mktemp("marts")))
    paths = Paths.from_env().ensure()
    paths.export_env()
    generate(paths.landing, scale=0.03, seed=21, as_of=date(2026, 3, 31))
    from orchestration.definitions import defs

    result = defs.resolve_job_def("refresh_all").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
    )
    assert result.success
    yield paths
    patch.undo()


def _analytics(paths: Paths, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(paths.analytics_db), read_only=True) as con:
        return con.execute(sql).df()


def _vault(paths: Paths, sql: str) -> pd.DataFrame:
    """Straight from the raw tables in the vault: no dbt model, no pseudonymised copy."""
    with duckdb.connect(str(paths.vault_db), read_only=True) as con:
        return con.execute(sql).df()


# the latest SSD extract of a raw table, with each row's person key
LATEST = """(select r.*, k.person_key from raw.{table} r
             join identity.record_keys k on k.namespace = 'la_person' and k.record_id = r.{id}
             where r._period = (select max(_period) from raw.{table}))"""
# the years the extract holds whole (six years back from 31 March 2026): before them it holds only what was
# still open, so a count from its episodes alone is not the count
YEARS = "(select unnest(range(2021, 2027)) as y)"
COMPLETE = " where collection_year >= 2021"


def _counts(frame: pd.DataFrame) -> dict[int, int]:
    return {int(y): int(n) for y, n in zip(frame.y, frame.n, strict=True)}


def test_looked_after_at_31_march_reconciles_with_the_episodes(authority):
    marts = _counts(
        _analytics(
            authority,
            "select collection_year as y, count(*) as n"
            f" from marts.cohort_looked_after_at_31_march{COMPLETE} group by 1",
        )
    )
    episodes = LATEST.format(table="ssd_cla_episodes", id="clae_person_id")
    respite = LATEST.format(table="ssd_legal_status", id="lega_person_id")
    direct = _counts(
        _vault(
            authority,
            f"""
        with e as (select * from {episodes}), ls as (select * from {respite} where lega_legal_status in ('V3', 'V4'))
        select y, count(distinct e.person_key) as n from e cross join {YEARS}
        where e.clae_cla_episode_start_date <= make_date(y, 3, 31)
          and (e.clae_cla_episode_ceased_date is null or e.clae_cla_episode_ceased_date > make_date(y, 3, 31))
          and make_date(y, 3, 31) <= e._period::date
          and not exists (select 1 from ls where ls.person_key = e.person_key
                          and e.clae_cla_episode_start_date >= ls.lega_legal_status_start_date
                          and (ls.lega_legal_status_end_date is null
                               or e.clae_cla_episode_start_date < ls.lega_legal_status_end_date))
        group by y""",
        )
    )
    assert marts and sum(marts.values()) > 20
    assert marts == direct


def test_looked_after_for_12_months_reconciles_with_days_in_care(authority):
    """A second definition: looked after on every day of the year (days in care = days in the year)."""
    marts = _counts(
        _analytics(
            authority,
            f"select collection_year as y, count(*) as n from marts.cohort_looked_after_12_months{COMPLETE} group by 1",
        )
    )
    episodes = LATEST.format(table="ssd_cla_episodes", id="clae_person_id")
    respite = LATEST.format(table="ssd_legal_status", id="lega_person_id")
    direct = _counts(
        _vault(
            authority,
            f"""
        with e as (select * from {episodes}), ls as (select * from {respite} where lega_legal_status in ('V3', 'V4')),
        care as (select * from e where not exists (
                     select 1 from ls where ls.person_key = e.person_key
                     and e.clae_cla_episode_start_date >= ls.lega_legal_status_start_date
                     and (ls.lega_legal_status_end_date is null
                          or e.clae_cla_episode_start_date < ls.lega_legal_status_end_date))),
        days as (
            select person_key, y,
                   sum(least(coalesce(clae_cla_episode_ceased_date, _period::date + 1) - 1, make_date(y, 3, 31))
                       - greatest(clae_cla_episode_start_date, make_date(y - 1, 4, 1)) + 1) as d
            from care cross join {YEARS}
            where clae_cla_episode_start_date <= make_date(y, 3, 31)
              and coalesce(clae_cla_episode_ceased_date, _period::date + 1) > make_date(y - 1, 4, 1)
              and make_date(y, 3, 31) <= _period::date
            group by all)
        select y, count(*) as n from days where d = make_date(y, 3, 31) - make_date(y - 1, 4, 1) + 1 group by y""",
        )
    )
    assert marts and sum(marts.values()) > 10
    assert marts == direct


def test_in_need_at_31_march_reconciles_with_the_referrals(authority):
    marts = _counts(
        _analytics(
            authority,
            f"select collection_year as y, count(*) as n from marts.cohort_in_need_at_31_march{COMPLETE} group by 1",
        )
    )
    referrals = LATEST.format(table="ssd_cin_episodes", id="cine_person_id")
    direct = _counts(
        _vault(
            authority,
            f"""
        select y, count(distinct person_key) as n from {referrals} r cross join {YEARS}
        where r.cine_referral_nfa <> 'Y' and r.cine_referral_date <= make_date(y, 3, 31)
          and (r.cine_close_date is null or r.cine_close_date > make_date(y, 3, 31))
          and make_date(y, 3, 31) <= r._period::date
        group by y""",
        )
    )
    assert marts and sum(marts.values()) > 50
    assert marts == direct


def test_the_marts_show_the_directions_of_the_national_statistics(authority):
    """Across all years of the synthetic authority, as the DfE's outcomes statistics show nationally."""
    frame = _analytics(authority, "select * from marts.fct_child_outcomes_by_year")
    pupils = frame[frame.sessions_possible.notna() & (frame.sessions_possible > 0)]
    looked_after = pupils[pupils.is_looked_after_during_year]
    in_need = pupils[pupils.is_in_need_during_year]
    assert len(looked_after) >= 20 and len(in_need) >= 50

    # children looked after, and children in need, are more often persistently absent than all pupils
    assert looked_after.is_persistently_absent.mean() > pupils.is_persistently_absent.mean()
    assert in_need.is_persistently_absent.mean() > pupils.is_persistently_absent.mean()
    # and fewer reach the expected standard at key stage 2
    ks2 = frame[frame.ks2_reading_writing_maths_expected.notna()]
    ks2_cla = ks2[ks2.is_looked_after_during_year | ks2.is_in_need_during_year]
    assert len(ks2_cla) >= 5
    assert ks2_cla.ks2_reading_writing_maths_expected.mean() < ks2.ks2_reading_writing_maths_expected.mean()
    # children in need are more often eligible for free school meals
    fsm = frame[frame.is_fsm_eligible.notna()]
    assert fsm[fsm.is_in_need_during_year].is_fsm_eligible.mean() > fsm.is_fsm_eligible.mean()
    # most children looked after at 31 March had no more than two placements in the year (national: about
    # 10% have 3+); the measure applies to them only
    at_31_march = frame[frame.is_looked_after_at_31_march.eq(True)]
    assert at_31_march.has_three_or_more_placements.notna().all()
    assert at_31_march.has_three_or_more_placements.astype(bool).mean() < 0.25
    assert frame[frame.is_looked_after_at_31_march.ne(True)].has_three_or_more_placements.isna().all()
