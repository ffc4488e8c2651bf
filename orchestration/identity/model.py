"""The probabilistic linkage model: Splink on DuckDB, its settings and its trained parameters.

Splink compares *profiles*: each distinct description of a person (names, date of birth, sex, postcode,
pseudonymised NHS number and UPN) within a group of records already joined by a strong identifier. Pairs
inside one such group are never compared (they are linked already); that, and comparing descriptions
rather than records, keeps a whole authority to a few million comparisons.

The model's parameters are estimated without labels (``wholechild linkage-train``: u by random sampling,
m by expectation maximisation over two blocking passes) and kept in the repository as
``model/splink_model.json``, versioned with the code. A run loads it and predicts; it never retrains.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

MODEL_PATH = Path(__file__).resolve().parent / "model" / "splink_model.json"
MODEL_VERSION = 1

# Thresholds on match probability, between two groups of records: at or above LINK they are one person
# (subject to the constraints in cluster.py); between REVIEW and LINK the pair goes to clerical review.
LINK_THRESHOLD = 0.95
REVIEW_THRESHOLD = 0.5

PROFILE_COLUMNS = [
    "profile_id",
    "dc",
    "forename",
    "surname",
    "full_name",
    "dob",
    "sex",
    "postcode",
    "nhs_token",
    "upn_token",
]

# blocking: which pairs of descriptions are compared at all (never two of one group). Each rule pairs
# descriptions that share a date of birth and something else, a name and a date of birth that differs by at
# most one slip, or a household: blocks that stay small as the authority grows. A date of birth alone (and a
# name alone) paired every two children born on one day (or named alike): 1,131,547 pairs at scale 1, up
# 15.5 times from scale 0.25; these rules give 18,429, up 4.9 times, with the same persons, the same
# clerical review pairs and the same F1 against the ground truth at both scales (wholechild bench).
# dates of birth that differ by at most one part (a slip in the day, month or year), by day and month
# swapped, or one not known
_DOB_NEAR = (
    "(l.dob is null or r.dob is null"
    " or (year(l.dob) = year(r.dob))::int + (month(l.dob) = month(r.dob))::int + (day(l.dob) = day(r.dob))::int >= 2"
    " or (day(l.dob) = month(r.dob) and month(l.dob) = day(r.dob) and year(l.dob) = year(r.dob)))"
)
BLOCKING_RULES = [
    "l.dob = r.dob and l.forename = r.forename and l.dc <> r.dc",
    "l.dob = r.dob and l.surname = r.surname and l.dc <> r.dc",
    "l.dob = r.dob and l.postcode = r.postcode and l.dc <> r.dc",
    f"l.forename = r.forename and l.surname = r.surname and {_DOB_NEAR} and l.dc <> r.dc",
    "l.surname = r.surname and l.postcode = r.postcode and l.dc <> r.dc",
    f"l.forename = r.surname and l.surname = r.forename and {_DOB_NEAR} and l.dc <> r.dc",
]


def blocked_pairs(profiles: pd.DataFrame, rules: list[str] | None = None) -> int:
    """How many pairs of profiles the blocking rules give Splink to score, each pair once (as Splink
    counts them): the work linkage does grows with this, so the benchmark prints it at every scale."""
    con = duckdb.connect()
    try:
        con.register("profiles", profiles[PROFILE_COLUMNS])
        union = " union ".join(
            f"select l.profile_id as a, r.profile_id as b from profiles l join profiles r "
            f"on l.profile_id < r.profile_id and ({rule})"
            for rule in (rules or BLOCKING_RULES)
        )
        return con.execute(f"select count(*) from ({union})").fetchall()[0][0]
    finally:
        con.close()


def _rules(rules: list[str]) -> list[dict]:
    return [{"blocking_rule": rule, "sql_dialect": "duckdb"} for rule in rules]


def _quiet_splink() -> None:
    for name in ("splink", "splink.internals"):
        logging.getLogger(name).setLevel(logging.WARNING)


def settings() -> Any:
    """The model's structure (comparisons and blocking), before any parameter is estimated."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import ColumnExpression, SettingsCreator

    dob = cl.CustomComparison(
        output_column_name="dob",
        comparison_levels=[
            cll.NullLevel("dob"),
            cll.ExactMatchLevel("dob"),
            cll.CustomLevel(
                "month(dob_l) = day(dob_r) and day(dob_l) = month(dob_r) and year(dob_l) = year(dob_r)",
                label_for_charts="Day and month swapped",
            ),
            cll.LevenshteinLevel(ColumnExpression("dob").cast_to_string(), 1).configure(
                label_for_charts="One character different"
            ),
            cll.AbsoluteDateDifferenceLevel("dob", threshold=1, metric="year", input_is_string=False),
            cll.ElseLevel(),
        ],
    )
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="profile_id",
        comparisons=[
            cl.ForenameSurnameComparison("forename", "surname", forename_surname_concat_col_name="full_name"),
            dob,
            cl.ExactMatch("sex"),
            cl.PostcodeComparison("postcode"),
            cl.ExactMatch("nhs_token"),
            cl.ExactMatch("upn_token"),
        ],
        blocking_rules_to_generate_predictions=BLOCKING_RULES,
        additional_columns_to_retain=["dc"],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def _linker(profiles: pd.DataFrame, model: Any) -> tuple[Any, duckdb.DuckDBPyConnection]:
    """A Splink linker over the profiles, in its own in-memory DuckDB (Splink's work tables never touch
    the vault file)."""
    from splink import DuckDBAPI, Linker

    _quiet_splink()
    con = duckdb.connect()
    api = DuckDBAPI(connection=con)
    return Linker(api.register(profiles[PROFILE_COLUMNS]), model), con


def train(profiles: pd.DataFrame, max_pairs: float = 5e6, seed: int = 42) -> dict:
    """Estimate the model's parameters from the data alone (no labels); returns the model as JSON."""
    from splink import block_on

    linker, con = _linker(profiles, settings())
    try:
        # two profiles sharing a valid strong identifier are the same child: how often that happens
        # among all pairs gives the prior; recall 0.6 allows for the many without one
        linker.training.estimate_probability_two_random_records_match(
            ["l.nhs_token = r.nhs_token", "l.upn_token = r.upn_token"], recall=0.6
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("forename", "surname"))
        model = linker.misc.save_model_to_json(out_path=None)
    finally:
        con.close()
    model["wholechild"] = {
        "version": MODEL_VERSION,
        "link_threshold": LINK_THRESHOLD,
        "review_threshold": REVIEW_THRESHOLD,
        "trained_on_profiles": len(profiles),
    }
    return model


def load_model(path: Path = MODEL_PATH) -> dict:
    if not path.exists():
        raise FileNotFoundError(f"{path}: no trained linkage model; run `wholechild linkage-train` first")
    model = json.loads(path.read_text(encoding="utf-8"))
    if model.get("wholechild", {}).get("version") != MODEL_VERSION:
        raise ValueError(f"{path}: model version differs from this code's ({MODEL_VERSION}); retrain it")
    return model


def predict(profiles: pd.DataFrame, model: dict, threshold: float = REVIEW_THRESHOLD) -> pd.DataFrame:
    """Scored pairs of profiles at or above ``threshold``: profile_id_l, profile_id_r, dc_l, dc_r,
    match_probability, and dob_agrees (both dates of birth known and equal)."""
    splink_model = {k: v for k, v in model.items() if k != "wholechild"}
    # which pairs are scored is this code's choice, not a trained parameter: the rules here, whatever rules
    # the model file was trained beside
    splink_model["blocking_rules_to_generate_predictions"] = _rules(BLOCKING_RULES)
    linker, con = _linker(profiles, splink_model)
    try:
        scored = linker.inference.predict(threshold_match_probability=threshold)
        pairs = con.execute(
            f"select profile_id_l, profile_id_r, dc_l, dc_r, match_probability from {scored.physical_name}"
        ).df()
    finally:
        con.close()
    dob = profiles.set_index("profile_id").dob
    left, right = pairs.profile_id_l.map(dob), pairs.profile_id_r.map(dob)
    return pairs.assign(dob_agrees=(left == right) & left.notna())
