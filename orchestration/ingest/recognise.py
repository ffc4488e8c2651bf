"""Which dataset is this file? Decided by its content, as the DfE validators do: a CSV by its column set,
a workbook by its sheets and their headings, an XML document by its root element. The landing folder it
arrived in only breaks ties, and a name or folder that disagrees with the content is noted. A file that
matches no contract is never guessed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from orchestration.ingest.contracts import Contract, normalise_header
from orchestration.ingest.limits import Limits, OverLimit
from orchestration.ingest.sources import HEADER_SEARCH_ROWS, sniff_format
from orchestration.ingest.textfile import UTF16_BOMS, decode, header_fields

MIN_KNOWN_SHARE = 0.5  # at least half of a file's columns must be ones the contract knows


@dataclass(frozen=True)
class Match:
    contract: Contract | None
    reason: str | None = None
    period: str | None = None  # read from the content (an XML header), when the contract says where
    notes: tuple[str, ...] = field(default_factory=tuple)
    # a delivery that fails whole (over a limit, a workbook that cannot be opened, an XML document type),
    # not one that matches nothing: the reason says why, and ``contract`` is its dataset where that is known
    failed: bool = False


def _score_headers(contracts: list[Contract], headers: list[str]) -> list[tuple[bool, float, int, Contract]]:
    """Contracts that know at least half of the file's columns (and two or more of them). Required
    columns are not demanded here, only preferred: a file missing one is still that dataset, and fails
    with a message that says which column it lacks."""
    out = []
    filled = max(1, len([h for h in headers if h not in (None, "")]))
    for contract in contracts:
        table = contract.tables[0]
        matched = table.match_headers(headers)
        known = len(matched) / filled
        needed = {c.name for c in table.columns if c.required and not c.surrogate}
        if contract.open_layout and len(needed) >= 2 and needed <= set(matched.values()):
            # its own columns are the file's business: the ones the contract requires say what it is
            out.append((True, 1.0, len(matched), contract))
        elif known >= MIN_KNOWN_SHARE and len(matched) >= 2:
            out.append((needed <= set(matched.values()), known, len(matched), contract))
    return out


class Ambiguous(Exception):
    """Two or more datasets fit a file's columns equally well: it is not guessed."""


def _pick(candidates: list[tuple[bool, float, int, Contract]], relative: str) -> Contract | None:
    """The dataset whose contract fits the file's columns best; Ambiguous (naming them) when two or more
    fit equally well, the landing folder included."""
    if not candidates:
        return None

    def fit(c: tuple[bool, float, int, Contract]) -> tuple:
        return (c[0], c[1], c[2], in_folder(relative, c[3].folder_hint))

    best = max(candidates, key=fit)
    tied = sorted(c[3].dataset for c in candidates if fit(c) == fit(best))
    if len(tied) > 1:
        raise Ambiguous(", ".join(tied))
    return best[3]


def in_folder(relative: str, folder: str | None) -> bool:
    """Whether a file sits in a dataset's folder: at the top of the landing folder, or (for a file named
    by its full path) anywhere along its path."""
    if not folder:
        return False
    return relative.startswith(folder + "/") or (relative.startswith("/") and f"/{folder}/" in relative)


def _notes(contract: Contract, relative: str, contracts: dict[str, Contract]) -> tuple[str, ...]:
    """What a partner should know when the name or folder of a file disagrees with its content."""
    notes = []
    if contract.folder_hint and not in_folder(relative, contract.folder_hint):
        notes.append(f"arrived outside {contract.folder_hint}/ but its content is {contract.dataset}")
    stem = normalise_header(Path(relative).stem)
    if normalise_header(contract.dataset) not in stem:
        named = [c.dataset for c in contracts.values() if normalise_header(c.dataset) in stem]
        if named:
            notes.append(f"its name says {max(named, key=len)} but its content is {contract.dataset}")
    return tuple(notes)


def _csv_hint(headers: list[str], contracts: dict[str, Contract]) -> str:
    """Why a CSV matched nothing, in the partner's terms."""
    for contract in contracts.values():
        if contract.format == "xlsx":
            for table in contract.tables:
                if len(table.match_headers(headers)) >= max(3, len(table.columns) // 2):
                    return (
                        f"; it looks like '{table.description or table.name}' of {contract.dataset} saved as "
                        "CSV: send the whole workbook"
                    )
    filled = [h for h in headers if h]
    data_like = [h for h in filled if re.fullmatch(r"[\d\s/.:,+-]+|\w{1,3}|.*\d{3,}.*", h)]
    if filled and len(data_like) * 2 >= len(filled):
        return "; the first line looks like data, not column headings: is the header row missing?"
    return ""


def recognise(path: Path, relative: str, contracts: dict[str, Contract]) -> Match:
    with path.open("rb") as fh:
        head = fh.read(1 << 20)
    if not head.strip():
        return Match(None, f"{relative}: the file is empty")
    kind = sniff_format(path)
    if kind == "xlsx":
        try:
            Limits.from_env().check_workbook(path, relative)
        except OverLimit as exc:
            return Match(_by_folder(relative, contracts, "xlsx"), str(exc), failed=True)
        return _recognise_workbook(path, relative, contracts)
    if kind == "xml":
        return _recognise_xml(path, relative, contracts)
    if b"\x00" in head[:4096] and not head.startswith(UTF16_BOMS):
        return Match(None, f"{relative}: this is not a text file (it contains binary data)")
    headers = header_fields(decode(head).text_bytes)
    if not headers:
        return Match(None, f"{relative}: no header row found")
    csv_contracts = [c for c in contracts.values() if c.format == "csv"]
    try:
        chosen = _pick(_score_headers(csv_contracts, headers), relative)
    except Ambiguous as tied:
        shown = ", ".join(headers[:8]) + (", ..." if len(headers) > 8 else "")
        return Match(
            None,
            f"{relative}: its columns ({shown}) fit {tied} equally well, so it is not loaded as any of them: a "
            "table Whole Child does not know yet, or one cut down to the columns these share",
        )
    if chosen is None:
        shown = ", ".join(headers[:8]) + (", ..." if len(headers) > 8 else "")
        return Match(
            None, f"{relative}: columns ({shown}) match no known dataset{_csv_hint(headers, contracts)}"
        )
    return Match(chosen, notes=_notes(chosen, relative, contracts))


def _recognise_workbook(path: Path, relative: str, contracts: dict[str, Contract]) -> Match:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        return Match(
            _by_folder(relative, contracts, "xlsx"),
            f"{relative}: an Excel workbook that cannot be opened ({exc}): is it cut short? Send it again",
            failed=True,
        )
    titles = [ws.title.strip() for ws in book.worksheets]
    best: tuple[int, Contract] | None = None
    for contract in contracts.values():
        if contract.format != "xlsx":
            continue
        hits = sum(1 for t in contract.tables if t.sheet and any(re.search(t.sheet, s, re.I) for s in titles))
        if hits and (best is None or hits > best[0]):
            best = (hits, contract)
    if best is not None:
        return Match(best[1], notes=_notes(best[1], relative, contracts))
    # a CSV dataset saved as a workbook: its first sheet's heading row says which
    rows = list(book.worksheets[0].iter_rows(values_only=True, max_row=HEADER_SEARCH_ROWS)) if titles else []
    for row in rows:
        headers = [str(c) for c in row if c is not None]
        try:
            chosen = _pick(
                _score_headers([c for c in contracts.values() if c.format == "csv"], headers), relative
            )
        except Ambiguous:
            chosen = None
        if chosen is not None:
            return Match(
                chosen,
                notes=(
                    *_notes(chosen, relative, contracts),
                    "an Excel workbook where a CSV file was expected",
                ),
            )
    return Match(
        None, f"{relative}: an Excel workbook whose sheets ({', '.join(titles[:6])}) match no known dataset"
    )


def period_from_dates(path: Path, contract: Contract) -> tuple[str, str] | None:
    """The collection year a CSV is for, from the latest of its ``period_from_dates`` columns (a date
    from 1 April belongs to the next year's collection), with a note saying so; None when the file has no
    such column or no date in it."""
    import duckdb

    if not contract.period_from_dates or contract.format != "csv" or sniff_format(path) != "csv":
        return None
    with path.open("rb") as fh:
        headers = header_fields(decode(fh.read(1 << 20)).text_bytes)
    table = contract.table
    wanted = {pos: table.column(name) for pos, name in table.match_headers(headers).items()}
    wanted = {pos: c for pos, c in wanted.items() if c.name in contract.period_from_dates}
    if not wanted:
        return None
    dates = ", ".join(
        f"try_strptime(#{pos + 1}, [{', '.join(repr(f) for f in c.formats)}])" for pos, c in wanted.items()
    )
    try:
        with duckdb.connect() as con:
            latest = con.execute(
                f"select max(greatest({dates})) from read_csv(?, header = true, all_varchar = true)",
                [str(path)],
            ).fetchall()[0][0]
    except duckdb.Error:
        return None  # the load says what is wrong with the file
    if latest is None:
        return None
    year = latest.year + (1 if latest.month >= 4 else 0)
    columns = " and ".join(c.name for c in wanted.values())
    return str(year), f"its period, {year}, read from its content: the latest {columns} is {latest:%d/%m/%Y}"


def _by_folder(relative: str, contracts: dict[str, Contract], format: str) -> Contract | None:
    """The one dataset of a format whose landing folder a file arrived in, if there is one."""
    found = [c for c in contracts.values() if c.format == format and in_folder(relative, c.folder_hint)]
    return found[0] if len(found) == 1 else None


def _recognise_xml(path: Path, relative: str, contracts: dict[str, Contract]) -> Match:
    from lxml import etree

    from orchestration.ingest.sources import safe_xml_parser, xml_doctype_problem

    try:
        tree = etree.parse(str(path), safe_xml_parser())
    except etree.XMLSyntaxError as exc:
        return Match(None, f"{relative}: not well-formed XML at line {exc.lineno}: {exc.msg}")
    root = tree.getroot()
    name = etree.QName(root).localname
    for contract in contracts.values():
        if contract.format == "xml" and contract.xml_root == name:
            if tree.docinfo.doctype:
                return Match(contract, xml_doctype_problem(relative, tree.docinfo.doctype), failed=True)
            period = None
            if contract.period_element:
                found = root.xpath(contract.period_element)
                period = (found[0].text or "").strip() if found and hasattr(found[0], "text") else None
            return Match(contract, period=period or None, notes=_notes(contract, relative, contracts))
    return Match(None, f"{relative}: an XML document with root <{name}> matches no known dataset")
