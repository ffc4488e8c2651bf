"""Identity assets: the person index in the vault, and each dataset copied pseudonymised to analytics."""

from collections.abc import Iterator

import dagster as dg

from orchestration.identity import birthdays
from orchestration.identity.integrity import persons_holding_two_children
from orchestration.identity.linkage import link
from orchestration.identity.pseudonymise import (
    ANALYTICS_SCHEMA,
    inputs_by_dataset,
    publish_datasets,
    written_from,
)
from orchestration.ingest.assets import raw_key
from orchestration.ingest.contracts import Contract, ContractVersions, load_contract_versions, load_contracts
from orchestration.resources import WAREHOUSE_POOL, Warehouse

PERSON_INDEX = dg.AssetKey(["identity", "person_index"])


def pseudonymised_key(contract: Contract) -> dg.AssetKey:
    return dg.AssetKey([ANALYTICS_SCHEMA, contract.dataset])


def _person_datasets() -> list[Contract]:
    return [
        c for c in load_contracts().values() if any(t.person and t.person.describes_person for t in c.tables)
    ]


@dg.asset(
    key=PERSON_INDEX,
    deps=[raw_key(c) for c in _person_datasets()],
    group_name="identity",
    pool=WAREHOUSE_POOL,
    kinds={"duckdb"},
    description="Every person-describing record linked to one random person_key per child: strong "
    "identifiers first, then Splink (vault: identity.person_records, identity.record_keys, "
    "identity.key_events; uncertain pairs to identity/clerical_review.csv).",
)
def person_index(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    with warehouse.vault() as con:
        summary = link(con, load_contracts(), warehouse.paths.identity)
    context.log.info(
        f"{summary.records} records -> {summary.persons} persons ({summary.new_keys} new keys, "
        f"{summary.merges} merges, {summary.splits} splits); {summary.to_review} pairs for clerical review"
    )
    return dg.MaterializeResult(metadata=dict(vars(summary)))


@dg.asset_check(
    asset=PERSON_INDEX,
    name="one_child_per_person",
    blocking=True,
    pool=WAREHOUSE_POOL,
    description="No person holds two records of one delivery that lists each child once, nor two records "
    "of different sex and date of birth that share no uncontested NHS number, UPN or LA person id.",
)
def one_child_per_person(warehouse: Warehouse) -> dg.AssetCheckResult:
    with warehouse.vault(read_only=True) as con:
        pairs = persons_holding_two_children(con)
    persons = pairs.person_key.nunique()
    return dg.AssetCheckResult(
        passed=pairs.empty,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None
        if pairs.empty
        # record ids stay in the vault: the records are found from the person_key there
        else f"{persons} persons hold two children (their records: vault identity.record_keys by "
        "person_key): "
        + "; ".join(
            f"{r.person_key}: {r.problem} ({r.a_dataset}, {r.b_dataset})"
            for r in pairs.drop_duplicates("person_key").head(5).itertuples()
        ),
        metadata={"persons_holding_two_children": persons, "record_pairs": len(pairs)},
    )


def build_pseudonymised_assets(all_versions: list[ContractVersions]) -> dg.AssetsDefinition:
    """Each dataset's pseudonymised copy as its own asset, written in one step (a step per dataset cost
    more in orchestration than the copy of most datasets)."""
    by_key = {pseudonymised_key(v.latest): v for v in all_versions}

    @dg.multi_asset(
        name="pseudonymised__publish",
        specs=[
            dg.AssetSpec(
                key,
                deps=[raw_key(v.latest), PERSON_INDEX],
                group_name="analytics",
                kinds={"duckdb"},
                description=f"{v.latest.description} Pseudonymised copy in the analytics file: direct "
                "identifiers dropped, person ids replaced by person_key, dates of birth to month, postcodes "
                "to sector.",
                skippable=True,
            )
            for key, v in by_key.items()
        ],
        can_subset=True,
        pool=WAREHOUSE_POOL,
    )
    def _pseudonymised(context: dg.AssetExecutionContext, warehouse: Warehouse) -> Iterator:
        from orchestration.recovery import rebuild_everything
        from orchestration.run_state import code_fingerprint, settings_fingerprint

        selected = [(key, v) for key, v in by_key.items() if key in context.selected_asset_keys]
        with warehouse.analytics_with_vault() as con:
            # a dataset whose deliveries, person keys, code and settings are all as when its tables were last
            # written is not written again: the same inputs make the same tables
            inputs = inputs_by_dataset(
                con, [v for _, v in selected], f"{code_fingerprint()} {settings_fingerprint()}"
            )
            before = written_from(con)
            again = rebuild_everything(context)
            todo = [
                (versions, inputs[versions.dataset])
                for _, versions in selected
                if again or before.get(versions.dataset, (None,))[0] != inputs[versions.dataset]
            ]
            written = dict(zip((v.dataset for v, _ in todo), publish_datasets(con, todo), strict=True))
            for key, versions in selected:
                made_from = inputs[versions.dataset]
                rows = written.get(versions.dataset)
                yield dg.MaterializeResult(
                    asset_key=key,
                    metadata={
                        "rows": before[versions.dataset][1] if rows is None else rows,
                        "written_again": rows is not None,
                    },
                    data_version=dg.DataVersion(made_from[:16]),
                )

    return _pseudonymised


@dg.asset(
    key=dg.AssetKey([ANALYTICS_SCHEMA, "care_leaver_birthdays"]),
    deps=[*(raw_key(load_contracts()[name]) for name in birthdays.SOURCES), PERSON_INDEX],
    group_name="analytics",
    pool=WAREHOUSE_POOL,
    kinds={"duckdb"},
    description="For each 17th to 21st birthday of a child social care knows: the facts about it that need the "
    "day of birth (looked after on the day, a relevant care leaver by then, the status at the contact nearest "
    "it), worked out in the vault; no date reaches the analytics file.",
)
def care_leaver_birthdays(warehouse: Warehouse) -> dg.MaterializeResult:
    with warehouse.analytics_with_vault() as con:
        rows = birthdays.publish_care_leaver_birthdays(con)
    return dg.MaterializeResult(metadata={"rows": rows})


def identity_definitions() -> dg.Definitions:
    return dg.Definitions(
        assets=[
            person_index,
            care_leaver_birthdays,
            build_pseudonymised_assets(list(load_contract_versions().values())),
        ],
        asset_checks=[one_child_per_person],
    )
