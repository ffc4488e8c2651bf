"""Identity assets: the person index in the vault, and each dataset copied pseudonymised to analytics."""

import dagster as dg

from orchestration.identity.linkage import link
from orchestration.identity.pseudonymise import ANALYTICS_SCHEMA, publish_to_analytics
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


def build_pseudonymised_asset(versions: ContractVersions) -> dg.AssetsDefinition:
    contract = versions.latest

    @dg.asset(
        key=pseudonymised_key(contract),
        deps=[raw_key(contract), PERSON_INDEX],
        group_name=contract.partner,
        pool=WAREHOUSE_POOL,
        kinds={"duckdb"},
        description=f"{contract.description} Pseudonymised copy in the analytics file: direct identifiers "
        f"dropped, person ids replaced by person_key, dates of birth to month, postcodes to "
        f"sector.",
    )
    def _pseudonymised(warehouse: Warehouse) -> dg.MaterializeResult:
        with warehouse.analytics_with_vault() as con:
            rows = publish_to_analytics(con, versions)
        return dg.MaterializeResult(metadata={"rows": rows})

    return _pseudonymised


def identity_definitions() -> dg.Definitions:
    return dg.Definitions(
        assets=[person_index, *(build_pseudonymised_asset(v) for v in load_contract_versions().values())]
    )
