"""Run a Great Expectations suite from expectations/ against a DataFrame.

GX is used through its pandas path: the SQL datasource cannot read DuckDB reliably (docs/adr/0001). The
suite is data; this module knows nothing about any one mart. An expectation whose metric could not be
computed is reported as an error of the check itself, never mistaken for bad data.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from orchestration.settings import EXPECTATIONS_DIR


@dataclass
class ExpectationOutcome:
    expectation: str
    column: str | None
    success: bool
    unexpected_count: int | None
    examples: list[Any]
    why: str | None
    error: str | None

    @property
    def plain(self) -> str:
        target = f" on {self.column}" if self.column else ""
        if self.error:
            return f"{self.expectation}{target} could not be evaluated: {self.error}"
        if self.success:
            return f"{self.expectation}{target}: passed"
        count = (
            f" ({self.unexpected_count} rows" + (f", e.g. {self.examples[:3]}" if self.examples else "") + ")"
            if self.unexpected_count is not None
            else ""
        )
        return f"{self.expectation}{target}: FAILED{count}" + (f" - {self.why}" if self.why else "")


@dataclass
class SuiteResult:
    suite: str
    rows: int
    outcomes: list[ExpectationOutcome] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return all(o.success and not o.error for o in self.outcomes)

    @property
    def failures(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success or o.error]

    def summary(self) -> str:
        if self.success:
            return f"{self.suite}: all {len(self.outcomes)} expectations passed on {self.rows} rows"
        return (
            f"{self.suite}: {len(self.failures)} of {len(self.outcomes)} expectations failed on {self.rows} rows: "
            + "; ".join(o.plain for o in self.failures)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "rows": self.rows,
            "success": self.success,
            "expectations": [o.__dict__ | {"plain": o.plain} for o in self.outcomes],
        }


class SuiteError(ValueError):
    """A suite file that GX cannot build: an error in the gate, not in the data."""


def load_suite_spec(name: str, directory: Path = EXPECTATIONS_DIR) -> dict[str, Any]:
    with (directory / f"{name}.json").open(encoding="utf-8") as fh:
        return json.load(fh)


# the arguments by which an expectation names the columns it reads
COLUMN_ARGUMENTS = ("column", "column_A", "column_B")


def columns_checked(spec: dict[str, Any]) -> set[str] | None:
    """The columns a suite's expectations read, or None when one reads more than the columns it names (a
    table-level expectation other than the row count, or an argument naming columns this does not know)."""
    found: set[str] = set()
    for entry in spec["expectations"]:
        kind, kwargs = entry.get("type", ""), entry.get("kwargs", {})
        if kind.startswith("expect_table_") and kind != "expect_table_row_count_to_be_between":
            return None
        for argument, value in kwargs.items():
            if argument in COLUMN_ARGUMENTS:
                found.add(value)
            elif argument == "column_list":
                found.update(value)
            elif "column" in argument:
                return None
    return found or None


def build_expectations(spec: dict[str, Any], where: str) -> list[Any]:
    """Every expectation of the suite, or an error naming the first one GX does not know.

    GX's own suite constructor logs and skips an invalid expectation; a gate must never quietly lose one.
    """
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    built = []
    for i, entry in enumerate(spec["expectations"], start=1):
        try:
            built.append(
                ExpectationConfiguration(
                    type=entry["type"], kwargs=entry.get("kwargs", {}), meta=entry.get("meta")
                ).to_domain_obj()
            )
        except Exception as exc:
            raise SuiteError(f"{where}: expectation {i} ({entry.get('type')}) is not valid: {exc}") from exc
    return built


def preload() -> None:
    """Import Great Expectations (about 2 s) now, for the gates after dbt: called by the dbt step once dbt's
    own process has started, whose first seconds (dbt importing and reading its parse) print almost nothing.
    In the step's thread, never a background one: an import racing the run's own use of a shared module can
    find it half made."""
    import great_expectations  # noqa: F401


def validate(df: pd.DataFrame, name: str, directory: Path = EXPECTATIONS_DIR) -> SuiteResult:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx  # imported here: it takes seconds, and only gates need it
    from great_expectations.data_context.types.base import ProgressBarsConfig

    spec = load_suite_spec(name, directory)
    expectations = build_expectations(spec, str(directory / f"{name}.json"))
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch_definition = (
        context.data_sources.add_pandas(f"{name}_source")
        .add_dataframe_asset(name)
        .add_batch_definition_whole_dataframe("whole")
    )
    suite = context.suites.add(
        gx.ExpectationSuite(name=name, expectations=expectations, meta=spec.get("meta", {}))
    )
    if len(suite.expectations) != len(expectations):
        raise SuiteError(f"{name}: GX kept {len(suite.expectations)} of {len(expectations)} expectations")
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{name}_gate", data=batch_definition, suite=suite)
    )
    result = validation.run(batch_parameters={"dataframe": df}, result_format="SUMMARY")
    outcomes = []
    for r in result.results:
        cfg = r.expectation_config
        meta = cfg.meta or {}
        error = (
            r.exception_info.get("exception_message") if r.exception_info.get("raised_exception") else None
        )
        res = r.result or {}
        outcomes.append(
            ExpectationOutcome(
                expectation=cfg.type,
                column=cfg.kwargs.get("column")
                or ",".join(cfg.kwargs.get("column_list", []))
                or (
                    f"{cfg.kwargs.get('column_A')} vs {cfg.kwargs.get('column_B')}"
                    if "column_A" in cfg.kwargs
                    else None
                ),
                success=bool(r.success),
                unexpected_count=res.get("unexpected_count"),
                examples=[_jsonable(v) for v in (res.get("partial_unexpected_list") or [])[:5]],
                why=meta.get("why"),
                error=error,
            )
        )
    return SuiteResult(suite=name, rows=len(df), outcomes=outcomes)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    return value
