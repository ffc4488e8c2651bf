"""Which dataset is this file? Decided by its content (the column set), as the DfE validators do; the
landing folder it arrived in only breaks ties. A file that matches no contract is never guessed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from orchestration.ingest.contracts import Contract
from orchestration.ingest.textfile import decode, header_fields

MIN_KNOWN_SHARE = 0.5  # at least half of a file's columns must be ones the contract knows


@dataclass(frozen=True)
class Match:
    contract: Contract | None
    reason: str | None = None


def recognise(path: Path, relative: str, contracts: dict[str, Contract]) -> Match:
    with path.open("rb") as fh:
        head = fh.read(1 << 20)
    if not head.strip():
        return Match(None, f"{relative}: the file is empty")
    headers = header_fields(decode(head).text_bytes)
    if not headers:
        return Match(None, f"{relative}: no header row found")
    candidates = []
    for contract in contracts.values():
        matched = contract.match_headers(headers)
        if not set(contract.required) <= set(matched.values()):
            continue
        known_share = len(matched) / len(headers)
        if known_share < MIN_KNOWN_SHARE:
            continue
        in_hinted_folder = bool(contract.folder_hint) and relative.startswith(contract.folder_hint)
        candidates.append((known_share, len(matched), in_hinted_folder, contract.dataset, contract))
    if not candidates:
        shown = ", ".join(headers[:8]) + (", ..." if len(headers) > 8 else "")
        return Match(None, f"{relative}: columns ({shown}) match no known dataset")
    candidates.sort(key=lambda c: (c[0], c[1], c[2]), reverse=True)
    return Match(candidates[0][4])
