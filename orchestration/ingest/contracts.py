"""Dataset contracts: data files that say what each partner file must look like.

This module knows nothing about any one dataset. It reads ``contracts/<dataset>/base.yml`` and the
per-collection-year difference files beside it (``2022.yml`` applies to periods from 2022 on), resolves
shared formats and code lists, and answers questions such as "which contract column is this header?".

A contract describes one file format. A CSV holds one table; a workbook or an XML document may hold
several (``tables:``), each loaded to its own raw table ``raw.<dataset>__<table>``.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from orchestration.settings import CONTRACTS_DIR

TYPES = {"varchar", "integer", "decimal", "date", "boolean"}
FORMATS = {"csv", "xlsx", "xml"}
# how a column reaches the analytics file: direct and person_id never; birth_date and month as the month only
# (month: a date that often is a birth date, such as the start of the address a child was born at)
# Every column says what it is, and so what reaches the analytics file (orchestration/identity/pseudonymise.py;
# docs/adr/0007-privacy-and-security.md):
#   direct      identifies a person by itself (a name, NHS number, UPN, a professional's name): dropped
#   person_id   the partner's id of the child: replaced by the person_key the vault issued
#   record_id:D a source system's record id (a referral, a census row): replaced by its keyed HMAC in
#               domain D, so two columns of one domain still join and nobody can join back to the source
#   birth_date, month   a date about a person (birth, death, a mother's child's birth): its month, as text
#   postcode    a full postcode: its sector
#   free_text   narrative that may name anyone: dropped
#   attribute   codes, counts, dates of events, organisations: as they are
PRIVACY = {"direct", "person_id", "record_id", "birth_date", "month", "postcode", "free_text", "attribute"}
SEVERITIES = {"error", "warning"}
PERSON_FIELDS = ("nhs_number", "upn", "former_upn", "forename", "surname", "dob", "sex", "postcode")
ROW_ID = "_row"  # a person id for rows with no id of their own: the delivery and record they came from
COLUMN_KEYS = {
    "name",
    "surrogate",
    "not_before",
    "pattern_from",
    "header",
    "may_be_future",
    "type",
    "required",
    "aliases",
    "patterns",
    "formats",
    "codes",
    "codes_from",
    "check",
    "pattern",
    "severity",
    "privacy",
    "path",
}


class ContractError(ValueError):
    """A contract file is itself malformed: a programming error, raised at load time."""


@functools.lru_cache(maxsize=8192)
def normalise_header(name: str) -> str:
    """Header spelling that ignores case, spaces, punctuation and a byte-order mark."""
    return re.sub(r"[^0-9a-z]", "", str(name).replace("\ufeff", "").lower())


@dataclass(frozen=True)
class Column:
    name: str
    type: str = "varchar"
    required: bool = False
    aliases: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()  # regular expressions over the normalised header
    formats: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    check: str | None = None
    pattern: str | None = None
    pattern_means: str = ""  # what a value matching the pattern is, in words for the error report
    severity: str = "error"
    privacy: str | None = None
    id_domain: str | None = None  # record_id: the kind of id, shared by every column holding that kind
    path: str | None = None  # XML: where the value is, relative to the row element
    header: str = (
        ""  # the heading this version of the layout gives the column (its name, unless renamed later)
    )
    may_be_future: bool = False  # a due or target date may lie after the period the file is for
    not_before: str | None = None  # a date that cannot be earlier than this other date column of the row
    # the extract's own row id, meaning nothing outside it: a file without the column (a later layout that
    # names it otherwise) loads, each row identified by its delivery and line, and says so
    surrogate: bool = False

    @property
    def heading(self) -> str:
        return self.header or self.name

    @functools.cached_property
    def spellings(self) -> frozenset[str]:
        own = normalise_header(self.name)
        # a system's row id column, "<table>tableid", is "<table>id" in other extracts of the same tables
        plain = [own[: -len("tableid")] + "id"] if own.endswith("tableid") else []
        return frozenset({own, *plain, *(normalise_header(a) for a in self.aliases)})

    def matches(self, header: str) -> bool:
        norm = normalise_header(header)
        return norm in self.spellings or any(re.search(p, norm) for p in self.patterns)


@dataclass(frozen=True)
class PersonSpec:
    """How a table's rows reach a child: a namespace and id column for the identity index, and for
    tables that describe a person, the columns holding each identifying field."""

    namespace: str
    id: str
    fields: dict[str, str] = field(default_factory=dict)
    # "per_delivery": a delivery never holds two records of one child (a census, a results file), so
    # linkage never puts two records of one delivery in one person
    one_per_child: str | None = None
    # rows that are a child's second record in such a delivery all the same (column -> values: a
    # subsidiary dual registration in a school census)
    one_per_child_except: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def exclusive_group_sql(self) -> str:
        """SQL over a raw table: the group (delivery) a row is the child's only record of, or null."""
        if self.one_per_child != "per_delivery":
            return "null"
        unless = " or ".join(
            f"""coalesce("{column}"::varchar, '') in ({", ".join(f"'{v}'" for v in values)})"""
            for column, values in self.one_per_child_except.items()
        )
        return f"case when not ({unless}) then _delivery_id end" if unless else "_delivery_id"

    @property
    def describes_person(self) -> bool:
        return bool(self.fields)

    def id_sql(self, alias: str = "") -> str:
        """SQL for a record's id in its namespace, over a raw table."""
        prefix = f"{alias}." if alias else ""
        if self.id == ROW_ID:
            return f"{prefix}_delivery_id || ':' || {prefix}_record::varchar"
        return f'{prefix}"{self.id}"::varchar'


@dataclass(frozen=True)
class Table:
    name: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    person: PersonSpec | None
    sheet: str | None = None  # xlsx: a regular expression the sheet name must match
    rows: str | None = None  # xml: path of the row elements from the root
    description: str = ""

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def headings(self) -> list[str]:
        """The file's column headings in this version of the layout."""
        return [c.heading for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @functools.cached_property
    def _by_spelling(self) -> dict[str, str]:
        """Normalised spelling -> column, the first column claiming a spelling winning."""
        out: dict[str, str] = {}
        for c in self.columns:
            for spelling in sorted(c.spellings):
                out.setdefault(spelling, c.name)
        return out

    def match_headers(self, headers: list[str]) -> dict[int, str]:
        """Position in the file's header -> contract column, for every header the contract knows."""
        matched: dict[int, str] = {}
        taken: set[str] = set()
        by_spelling = self._by_spelling
        for i, header in enumerate(headers):
            if header is None:
                continue
            name = by_spelling.get(normalise_header(header)) or next(
                (c.name for c in self.columns if c.patterns and c.matches(header)), None
            )
            if name and name not in taken:
                matched[i] = name
                taken.add(name)
        return matched


@dataclass(frozen=True)
class Contract:
    """One dataset's contract as it applies from ``year`` (the base's is 0)."""

    dataset: str
    partner: str
    description: str
    format: str
    folder_hint: str
    period_pattern: str | None
    period_element: str | None
    tables: tuple[Table, ...]
    year: int = 0
    xml_root: str | None = None
    # a layout that carries columns of its own beyond the contract's (the DfE's open data: each publication
    # its own filters and indicators): recognised by its required columns, however many others it has
    open_layout: bool = False
    # the privacy class of the columns an open layout carries beyond the contract's (kept in ``_extra``):
    # None, the default, keeps them in the vault only; "attribute" copies them to the analytics file, for
    # a layout that holds nothing about a person (the DfE's published aggregates)
    extra_privacy: str | None = None
    xsd: str | None = None  # file name pattern with {year}, in the contract's folder
    period_default: str | None = None  # "received": a snapshot whose period is the day it arrived
    # date columns whose latest value says the collection year a file is for, when its name does not
    # (an SSDA903 table named episodes.csv, as the DfE's own tools name them)
    period_from_dates: tuple[str, ...] = ()

    # --- one-table conveniences (CSV) ---------------------------------------------------------
    @property
    def table(self) -> Table:
        if len(self.tables) != 1:
            raise ContractError(f"{self.dataset} has {len(self.tables)} tables; name one")
        return self.tables[0]

    @property
    def columns(self) -> tuple[Column, ...]:
        return self.table.columns

    @property
    def column_names(self) -> list[str]:
        return self.table.column_names

    @property
    def required(self) -> list[str]:
        return self.table.required

    @property
    def person(self) -> PersonSpec | None:
        return self.table.person

    @property
    def key(self) -> tuple[str, ...]:
        return self.table.key

    def column(self, name: str) -> Column:
        return self.table.column(name)

    def match_headers(self, headers: list[str]) -> dict[int, str]:
        return self.table.match_headers(headers)

    # --- periods and raw tables ---------------------------------------------------------------
    def period_of(self, relative_path: str) -> str | None:
        if not self.period_pattern:
            return None
        m = re.search(self.period_pattern, relative_path)
        if not m:
            return None
        groups = m.groupdict()
        if "period" in groups:
            return groups["period"]
        return "-".join(v for v in groups.values() if v)

    def period_named_by_month(self, relative_path: str) -> str | None:
        """A period the contract's pattern misses because the name spells its month in words
        (``Annex_A_2024_Jan.xlsx``, ``january-2024``): the month's last day for a dated snapshot, the
        month for a monthly file; None for other kinds of period or no such name."""
        import calendar

        name = Path(relative_path).name.lower()
        months = "|".join(
            [
                *(m.lower() for m in calendar.month_name[1:]),
                "sept",
                *(m.lower() for m in calendar.month_abbr[1:]),
            ]
        )
        found = re.search(rf"(?<!\d)((?:19|20)\d{{2}})[ _.-]*({months})(?![a-z])", name) or re.search(
            rf"(?<![a-z])({months})[ _.-]*((?:19|20)\d{{2}})(?!\d)", name
        )
        if not found or not self.period_pattern:
            return None
        year, month = sorted(found.groups(), key=lambda g: not g.isdigit())
        month_no = [m.lower() for m in calendar.month_abbr].index(month[:3])
        probe = {"date": f"{year}-{month_no:02d}-{calendar.monthrange(int(year), month_no)[1]}"}
        probe["month"] = probe["date"][:7]
        for kind in ("date", "month"):
            if re.fullmatch(self.period_pattern, probe[kind]):
                return probe[kind]
        return None

    def raw_table(self, table: Table) -> str:
        return f"raw.{self.dataset}" if len(self.tables) == 1 else f"raw.{self.dataset}__{table.name}"


def period_end(period: str | None) -> str | None:
    """The last day a period covers, ISO: a date is itself, a month its last day, a census term its census
    month's end, a collection year its 31 March."""
    import calendar

    p = period or ""
    if m := re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", p):
        return p
    if m := re.fullmatch(r"(\d{4})-(\d{2})", p):
        y, mo = int(m.group(1)), int(m.group(2))
        return f"{y}-{mo:02d}-{calendar.monthrange(y, mo)[1]}"
    if m := re.fullmatch(r"(\d{4})-(autumn|spring|summer)", p):
        return {
            "autumn": f"{m.group(1)}-10-31",
            "spring": f"{m.group(1)}-01-31",
            "summer": f"{m.group(1)}-05-31",
        }[m.group(2)]
    if m := re.fullmatch(r"(\d{4})", p):
        return f"{p}-03-31"
    return None


def period_year(period: str | None) -> int:
    """The year a period belongs to for choosing a contract version: its first four digits."""
    m = re.match(r"(\d{4})", period or "")
    return int(m.group(1)) if m else 0


@dataclass(frozen=True)
class ContractVersions:
    """Every version of a dataset's contract, by the year it applies from."""

    versions: tuple[Contract, ...]

    @property
    def latest(self) -> Contract:
        return self.versions[-1]

    @property
    def dataset(self) -> str:
        return self.latest.dataset

    def for_period(self, period: str | None) -> Contract:
        year = period_year(period)
        chosen = self.versions[0]
        for version in self.versions:
            if version.year <= year:
                chosen = version
        return chosen

    def union_table(self, name: str) -> Table:
        """A table with every column any version has had: the raw table's schema."""
        columns: dict[str, Column] = {}
        latest = None
        for version in self.versions:
            for t in version.tables:
                if t.name == name:
                    latest = t
                    for c in t.columns:
                        columns[c.name] = c
        if latest is None:
            raise KeyError(name)
        return replace(latest, columns=tuple(columns.values()))


# --- reading contract files -------------------------------------------------------------------------


# libyaml's safe loader when PyYAML was built with it (the wheels are): the same documents, read about ten
# times faster; every command reads all 76 contract files before it starts
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_yaml(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_SAFE_LOADER) or {}  # noqa: S506 (a safe loader)


def _column(spec: dict[str, Any], shared: dict[str, Any], where: str) -> Column:
    unknown = set(spec) - COLUMN_KEYS
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
    pattern, pattern_means = spec.get("pattern"), ""
    if "pattern_from" in spec:
        named = shared["value_patterns"][spec["pattern_from"]]
        pattern, pattern_means = named["pattern"], named["means"]
    severity = spec.get("severity", "error")
    if severity not in SEVERITIES:
        raise ContractError(f"{where}: column {spec['name']!r} has unknown severity {severity!r}")
    privacy, _, id_domain = str(spec.get("privacy") or "").partition(":")
    if not privacy:
        raise ContractError(
            f"{where}: column {spec['name']!r} has no privacy class: say what it is ({', '.join(sorted(PRIVACY))})"
        )
    if privacy not in PRIVACY:
        raise ContractError(f"{where}: column {spec['name']!r} has unknown privacy {privacy!r}")
    if (privacy == "record_id") != bool(id_domain) or not re.fullmatch(r"[a-z0-9_.]*", id_domain):
        raise ContractError(
            f"{where}: column {spec['name']!r}: a record id names its kind (privacy: 'record_id:<kind>'),"
            " and only a record id does"
        )
    return Column(
        name=str(spec["name"]),
        type=ctype,
        required=bool(spec.get("required", False)),
        aliases=tuple(str(a) for a in spec.get("aliases", ())),
        patterns=tuple(spec.get("patterns", ())),
        formats=tuple(formats),
        codes=tuple(str(c) for c in codes),
        check=spec.get("check"),
        pattern=pattern,
        pattern_means=pattern_means,
        severity=severity,
        privacy=privacy,
        id_domain=id_domain or None,
        path=spec.get("path"),
        header=str(spec.get("header") or ""),
        may_be_future=bool(spec.get("may_be_future", False)),
        not_before=spec.get("not_before"),
        surrogate=bool(spec.get("surrogate", False)),
    )


def _table(spec: dict[str, Any], shared: dict[str, Any], where: str) -> Table:
    columns = tuple(_column(c, shared, where) for c in spec["columns"])
    names = [c.name for c in columns]
    if len(set(names)) != len(names):
        raise ContractError(f"{where}: duplicate column names")
    for c in columns:
        if c.not_before and (c.type != "date" or c.not_before not in names):
            raise ContractError(
                f"{where}: {c.name} not_before must name another date column, not {c.not_before!r}"
            )
    person = None
    if "person" in spec:
        p = dict(spec["person"])
        namespace, id_column = p.pop("namespace"), p.pop("id")
        one_per_child = p.pop("one_per_child", None)
        if one_per_child not in (None, "per_delivery"):
            raise ContractError(f"{where}: person one_per_child must be per_delivery, not {one_per_child!r}")
        excepted = p.pop("one_per_child_except", None) or {}
        if excepted and one_per_child is None:
            raise ContractError(f"{where}: person one_per_child_except needs one_per_child")
        if not isinstance(excepted, dict) or not all(isinstance(v, list) for v in excepted.values()):
            raise ContractError(f"{where}: person one_per_child_except must map columns to lists of values")
        unknown = set(p) - set(PERSON_FIELDS)
        if unknown:
            raise ContractError(f"{where}: person has unknown fields {sorted(unknown)}")
        for col in [id_column, *p.values(), *excepted]:
            if col not in names and col != ROW_ID:
                raise ContractError(f"{where}: person refers to unknown column {col!r}")
        person = PersonSpec(
            namespace=namespace,
            id=id_column,
            fields=p,
            one_per_child=one_per_child,
            one_per_child_except={k: tuple(str(v) for v in vs) for k, vs in excepted.items()},
        )
    for k in spec.get("key", []):
        if k not in names:
            raise ContractError(f"{where}: key refers to unknown column {k!r}")
    return Table(
        name=spec.get("name", ""),
        key=tuple(spec.get("key", [])),
        columns=columns,
        person=person,
        sheet=spec.get("sheet"),
        rows=spec.get("rows"),
        description=spec.get("description", ""),
    )


def _apply_diff(table_spec: dict[str, Any], diff: dict[str, Any], where: str) -> dict[str, Any]:
    """A later year's difference: ``rename`` (the column keeps its place; its old header stays an alias),
    ``add`` (appended, or placed ``after`` a named column), ``drop``, and ``change`` (attributes of
    existing columns). Columns keep their order: it is the layout of the file."""
    spec = copy.deepcopy(table_spec)
    columns = spec["columns"]

    def index_of(name: str, action: str) -> int:
        for i, c in enumerate(columns):
            if c["name"] == name:
                return i
        raise ContractError(f"{where}: {action} of unknown column {name!r}")

    renames = diff.get("rename") or {}
    for old, new in renames.items():
        column = columns[index_of(old, "rename")]
        column["aliases"] = [*column.get("aliases", []), old]
        column["name"] = new
    for name in diff.get("drop") or []:
        del columns[index_of(name, "drop")]
    for name, changes in (diff.get("change") or {}).items():
        columns[index_of(name, "change")].update(changes)
    for column in diff.get("add") or []:
        column = dict(column)
        after = column.pop("after", None)
        if any(c["name"] == column["name"] for c in columns):
            raise ContractError(f"{where}: add of existing column {column['name']!r}")
        columns.insert(index_of(after, "add after") + 1 if after else len(columns), column)
    spec["key"] = [renames.get(k, k) for k in spec.get("key", [])]
    for column in columns:
        if column.get("not_before"):
            column["not_before"] = renames.get(column["not_before"], column["not_before"])
    if "person" in spec:
        spec["person"] = _rename_person(spec["person"], lambda c: renames.get(c, c))
    return spec


def _rename_person(person: dict[str, Any], rename: Callable[[str], str]) -> dict[str, Any]:
    """A person spec with its column names renamed (field -> column, or field -> {column: values})."""
    return {
        k: {rename(c): vs for c, vs in v.items()} if isinstance(v, dict) else rename(v)
        for k, v in person.items()
    }


def _canonical(table_specs: list[dict[str, Any]], renamed: dict[str, str]) -> list[dict[str, Any]]:
    """An earlier year's tables under the names columns have now: old names become aliases."""

    def final(name: str) -> str:
        seen = set()
        while name in renamed and name not in seen:
            seen.add(name)
            name = renamed[name]
        return name

    out = copy.deepcopy(table_specs)
    for spec in out:
        for column in spec["columns"]:
            name = final(column["name"])
            if name != column["name"]:
                column["aliases"] = [*column.get("aliases", []), column["name"]]
                column["header"] = column["name"]
                column["name"] = name
        spec["key"] = [final(k) for k in spec.get("key", [])]
        for column in spec["columns"]:
            if column.get("not_before"):
                column["not_before"] = final(column["not_before"])
        if "person" in spec:
            spec["person"] = _rename_person(spec["person"], final)
    return out


def load_versions(folder: Path, shared: dict[str, Any]) -> ContractVersions:
    base = _load_yaml(folder / "base.yml")
    where = f"contracts/{folder.name}"
    table_specs = (
        base["tables"]
        if "tables" in base
        else [{"name": base["dataset"], **{k: base[k] for k in ("key", "person", "columns") if k in base}}]
    )
    diffs = sorted((int(p.stem), p) for p in folder.glob("*.yml") if p.stem.isdigit())
    by_year: list[tuple[int, list[dict[str, Any]]]] = [(0, table_specs)]
    renamed: dict[str, str] = {}
    for year, path in diffs:
        diff = _load_yaml(path)
        if len(table_specs) == 1 and "tables" not in diff:
            diff = {"tables": {table_specs[0]["name"]: diff}}
        per_table = diff.get("tables") or {}
        unknown = set(per_table) - {t["name"] for t in table_specs}
        if unknown:
            raise ContractError(f"{where}/{path.name}: unknown tables {sorted(unknown)}")
        table_specs = [
            _apply_diff(t, per_table[t["name"]], f"{where}/{path.name}") if t["name"] in per_table else t
            for t in table_specs
        ]
        for t in per_table.values():
            renamed.update(t.get("rename") or {})
        by_year.append((year, table_specs))
    period = base.get("period", {})
    recognise = base.get("recognise", {})
    fmt = base.get("format", "csv")
    if fmt not in FORMATS:
        raise ContractError(f"{where}: unknown format {fmt!r}")
    versions = [
        Contract(
            dataset=base["dataset"],
            partner=base["partner"],
            description=base["description"],
            format=fmt,
            folder_hint=recognise.get("folder", ""),
            period_pattern=period.get("pattern"),
            period_element=period.get("element"),
            tables=tuple(_table(t, shared, where) for t in _canonical(specs, renamed)),
            year=year,
            xml_root=recognise.get("root"),
            open_layout=bool(recognise.get("open", False)),
            extra_privacy=_extra_privacy(base, where),
            xsd=base.get("xsd"),
            period_default=period.get("default"),
            period_from_dates=tuple(period.get("from_dates", ())),
        )
        for year, specs in by_year
    ]
    return ContractVersions(tuple(versions))


def _extra_privacy(base: dict, where: str) -> str | None:
    privacy = base.get("extra")
    if privacy is None:
        return None
    if privacy != "attribute" or not (base.get("recognise") or {}).get("open"):
        raise ContractError(
            f"{where}: extra: {privacy!r} - only an open layout's extra columns may be copied, and only as "
            "'attribute' (published aggregates, nothing about a person)"
        )
    return privacy


def load_contract_versions(directory: Path = CONTRACTS_DIR) -> dict[str, ContractVersions]:
    """Every dataset's contract versions, read once per process (contracts change only with the code)."""
    return _load_contract_versions(Path(directory).resolve())


@cache
def _load_contract_versions(directory: Path) -> dict[str, ContractVersions]:
    shared = _load_yaml(directory / "_shared.yml")
    out = {}
    for folder in sorted(p for p in directory.iterdir() if (p / "base.yml").exists()):
        versions = load_versions(folder, shared)
        if versions.dataset != folder.name:
            raise ContractError(f"{folder}: dataset name {versions.dataset!r} differs from its folder")
        out[versions.dataset] = versions
    return out


def load_contracts(directory: Path = CONTRACTS_DIR) -> dict[str, Contract]:
    """The latest version of every contract."""
    return {name: v.latest for name, v in load_contract_versions(directory).items()}
