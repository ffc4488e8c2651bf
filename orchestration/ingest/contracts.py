"""Dataset contracts: data files that say what each partner file must look like.

This module knows nothing about any one dataset. It reads ``contracts/<dataset>/base.yml`` and any
per-collection-year difference files beside it, resolves shared formats and code lists, and answers
questions such as "which contract column is this header?".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from orchestration.settings import CONTRACTS_DIR

TYPES = {"varchar", "integer", "decimal", "date", "boolean"}
PRIVACY = {None, "direct", "person_id", "birth_date", "postcode"}
SEVERITIES = {"error", "warning"}
PERSON_FIELDS = ("nhs_number", "upn", "forename", "surname", "dob", "sex", "postcode")
ROW_ID = "_row"  # a person id for rows with no id of their own: the delivery and line they came from


class ContractError(ValueError):
    """A contract file is itself malformed: a programming error, raised at load time."""


def normalise_header(name: str) -> str:
    """Header spelling that ignores case, spaces, punctuation and a byte-order mark."""
    return re.sub(r"[^0-9a-z]", "", name.replace("\ufeff", "").lower())


@dataclass(frozen=True)
class Column:
    name: str
    type: str = "varchar"
    required: bool = False
    aliases: tuple[str, ...] = ()
    formats: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    check: str | None = None
    pattern: str | None = None
    severity: str = "error"
    privacy: str | None = None

    @property
    def spellings(self) -> set[str]:
        return {normalise_header(self.name), *(normalise_header(a) for a in self.aliases)}


@dataclass(frozen=True)
class PersonSpec:
    """How a dataset's rows reach a child: a namespace and id column for the identity index, and for
    datasets that describe a person, the columns holding each identifying field."""

    namespace: str
    id: str
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def describes_person(self) -> bool:
        return bool(self.fields)

    def id_sql(self, alias: str = "") -> str:
        """SQL for a record's id in its namespace, over a raw table."""
        prefix = f"{alias}." if alias else ""
        if self.id == ROW_ID:
            return f"{prefix}_delivery_id || ':' || {prefix}_source_line::varchar"
        return f'{prefix}"{self.id}"::varchar'


@dataclass(frozen=True)
class Contract:
    dataset: str
    partner: str
    description: str
    format: str
    folder_hint: str
    period_pattern: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    person: PersonSpec | None

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def match_headers(self, headers: list[str]) -> dict[int, str]:
        """Position in the file's header -> contract column, for every header the contract knows."""
        lookup = {spelling: c.name for c in self.columns for spelling in c.spellings}
        matched: dict[int, str] = {}
        for i, header in enumerate(headers):
            name = lookup.get(normalise_header(header))
            if name and name not in matched.values():
                matched[i] = name
        return matched

    def period_of(self, relative_path: str) -> str | None:
        m = re.search(self.period_pattern, relative_path)
        if not m:
            return None
        groups = m.groupdict()
        if "period" in groups:
            return groups["period"]
        return "-".join(v for v in groups.values() if v)


def _load_yaml(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh) or {}


def _column(spec: dict[str, Any], shared: dict[str, Any], where: str) -> Column:
    unknown = set(spec) - {
        "name",
        "type",
        "required",
        "aliases",
        "formats",
        "codes",
        "codes_from",
        "check",
        "pattern",
        "severity",
        "privacy",
    }
    if unknown:
        raise ContractError(f"{where}: column {spec.get('name')!r} has unknown keys {sorted(unknown)}")
    ctype = spec.get("type", "varchar")
    if ctype not in TYPES:
        raise ContractError(f"{where}: column {spec['name']!r} has unknown type {ctype!r}")
    formats = spec.get("formats", ())
    if isinstance(formats, str):
        formats = shared["date_formats"][formats]
    if ctype == "date" and not formats:
        raise ContractError(f"{where}: date column {spec['name']!r} needs formats")
    codes = spec.get("codes", ())
    if "codes_from" in spec:
        codes = shared["code_lists"][spec["codes_from"]]
    severity = spec.get("severity", "error")
    if severity not in SEVERITIES:
        raise ContractError(f"{where}: column {spec['name']!r} has unknown severity {severity!r}")
    privacy = spec.get("privacy")
    if privacy not in PRIVACY:
        raise ContractError(f"{where}: column {spec['name']!r} has unknown privacy {privacy!r}")
    return Column(
        name=spec["name"],
        type=ctype,
        required=bool(spec.get("required", False)),
        aliases=tuple(spec.get("aliases", ())),
        formats=tuple(formats),
        codes=tuple(str(c) for c in codes),
        check=spec.get("check"),
        pattern=spec.get("pattern"),
        severity=severity,
        privacy=privacy,
    )


def load_contract(folder: Path, shared: dict[str, Any]) -> Contract:
    base_path = folder / "base.yml"
    spec = _load_yaml(base_path)
    where = str(base_path.relative_to(folder.parent.parent))
    columns = tuple(_column(c, shared, where) for c in spec["columns"])
    names = [c.name for c in columns]
    if len(set(names)) != len(names):
        raise ContractError(f"{where}: duplicate column names")
    person = None
    if "person" in spec:
        p = dict(spec["person"])
        namespace, id_column = p.pop("namespace"), p.pop("id")
        unknown = set(p) - set(PERSON_FIELDS)
        if unknown:
            raise ContractError(f"{where}: person has unknown fields {sorted(unknown)}")
        for col in [id_column, *p.values()]:
            if col not in names and col != ROW_ID:
                raise ContractError(f"{where}: person refers to unknown column {col!r}")
        person = PersonSpec(namespace=namespace, id=id_column, fields=p)
    for k in spec.get("key", []):
        if k not in names:
            raise ContractError(f"{where}: key refers to unknown column {k!r}")
    return Contract(
        dataset=spec["dataset"],
        partner=spec["partner"],
        description=spec["description"],
        format=spec.get("format", "csv"),
        folder_hint=spec.get("recognise", {}).get("folder", ""),
        period_pattern=spec["period"]["pattern"],
        key=tuple(spec.get("key", [])),
        columns=columns,
        person=person,
    )


@cache
def load_contracts(directory: Path = CONTRACTS_DIR) -> dict[str, Contract]:
    shared = _load_yaml(directory / "_shared.yml")
    contracts = {}
    for folder in sorted(p for p in directory.iterdir() if (p / "base.yml").exists()):
        contract = load_contract(folder, shared)
        if contract.dataset != folder.name:
            raise ContractError(f"{folder}: dataset name {contract.dataset!r} differs from its folder")
        contracts[contract.dataset] = contract
    return contracts
