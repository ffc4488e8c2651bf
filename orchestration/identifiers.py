"""Check digits of the identifiers that link a child across partners (docs/domain.md §6).

Two forms of each rule: scalar functions for messages and tests, and numpy versions that work on whole
columns at once for the synthetic generator. The ingest and identity stages apply the same rules in SQL,
through the DuckDB macros installed by ``install_sql_macros``; tests keep the three in agreement.
"""

from __future__ import annotations

import re

import duckdb
import numpy as np

UPN_ALPHABET = "ABCDEFGHJKLMNPQRTUVWXYZ"  # 23 letters: no I, O or S
_UPN_WEIGHTS = np.arange(2, 14)
_UPN_PATTERN = re.compile(r"^[A-HJ-NP-RT-Z]\d{11}[0-9A-HJ-NP-RT-Z]$")
_NHS_WEIGHTS = np.arange(10, 1, -1)


def upn_check_letter(body: str) -> str:
    """Check letter for the 12 characters after it: LA (3), establishment (4), year (2), serial (3).

    A temporary UPN ends in a letter, which counts as its position in the 23-letter alphabet.
    """
    if len(body) != 12 or not body[:11].isdigit():
        raise ValueError(f"UPN body must be 11 digits and a digit or letter, got {body!r}")
    values = [int(c) for c in body[:11]]
    last = body[11]
    if last.isdigit():
        values.append(int(last))
    elif last in UPN_ALPHABET:
        values.append(UPN_ALPHABET.index(last))
    else:
        raise ValueError(f"UPN final character {last!r} is not a digit or an allowed letter")
    total = sum(v * w for v, w in zip(values, range(2, 14), strict=True))
    return UPN_ALPHABET[total % 23]


def is_valid_upn(upn: str | None) -> bool:
    if upn is None:
        return False
    upn = upn.strip().upper()
    if not _UPN_PATTERN.match(upn):
        return False
    return upn_check_letter(upn[1:]) == upn[0]


def nhs_check_digit(first_nine: str) -> int | None:
    """Modulus 11 check digit, or None when the nine digits can never form a valid number."""
    if len(first_nine) != 9 or not first_nine.isdigit():
        raise ValueError(f"need nine digits, got {first_nine!r}")
    total = sum(int(d) * w for d, w in zip(first_nine, range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def is_valid_nhs_number(value: str | None) -> bool:
    if value is None:
        return False
    digits = re.sub(r"[\s-]", "", value)
    if len(digits) != 10 or not digits.isdigit():
        return False
    return nhs_check_digit(digits[:9]) == int(digits[9])


# --- whole-column versions for the generator -------------------------------------------------------


def upn_check_letters(bodies: np.ndarray) -> np.ndarray:
    """Vectorised ``upn_check_letter`` over an array of 12-character all-digit bodies."""
    digits = np.frombuffer("".join(bodies).encode("ascii"), dtype=np.uint8).reshape(-1, 12) - ord("0")
    totals = (digits.astype(np.int64) * _UPN_WEIGHTS).sum(axis=1) % 23
    return np.array(list(UPN_ALPHABET))[totals]


def nhs_numbers_from_serials(serials: np.ndarray, prefix: str = "999") -> np.ndarray:
    """Valid NHS numbers in the never-issued 999 range, one per serial; serials whose check digit
    would be 10 are skipped by the caller drawing more serials than it needs (about 1 in 11)."""
    first_nine = np.char.add(prefix, np.char.zfill(serials.astype(str), 9 - len(prefix)))
    digits = np.frombuffer("".join(first_nine).encode("ascii"), dtype=np.uint8).reshape(-1, 9) - ord("0")
    check = 11 - (digits.astype(np.int64) * _NHS_WEIGHTS).sum(axis=1) % 11
    check = np.where(check == 11, 0, check)
    out = np.char.add(first_nine, check.astype(str))
    return np.where(check == 10, "", out)


# --- the same rules as DuckDB macros, for set-based checks in SQL ------------------------------------


def _weighted_digits(positions_and_weights: list[tuple[int, int]]) -> str:
    return " + ".join(f"try_cast(substr(s, {p}, 1) as integer) * {w}" for p, w in positions_and_weights)


# the nine weighted digits of an NHS number held as an integer n (faster than cutting the text nine times).
# wc_nhs_number_ok takes the text and its number (worked out once by the caller where it is hot); its CASE
# keeps the regular expression and arithmetic to the rows that can pass.
_NHS_SUM = " + ".join(f"(n // {10 ** (10 - i)}) % 10 * {11 - i}" for i in range(1, 10))
_UPN_SUM = _weighted_digits([(p, p) for p in range(2, 13)])
_SQL_MACROS = f"""
create or replace temp macro wc_nhs_check(n) as (11 - ({_NHS_SUM}) % 11) % 11;
create or replace temp macro wc_nhs_number_ok(s, n) as
    case when length(s) = 10 and n is not null then regexp_full_match(s, '\\d{{10}}') and wc_nhs_check(n) = n % 10
         else false end;
create or replace temp macro wc_is_valid_nhs_number(s) as wc_nhs_number_ok(s, try_cast(s as bigint));
create or replace temp macro wc_upn_last_value(c) as
    case when regexp_full_match(c, '\\d') then try_cast(c as integer) else strpos('{UPN_ALPHABET}', c) - 1 end;
create or replace temp macro wc_is_valid_upn(s) as
    coalesce(regexp_full_match(s, '[A-HJ-NP-RT-Z]\\d{{11}}[0-9A-HJ-NP-RT-Z]')
             and substr('{UPN_ALPHABET}', (({_UPN_SUM} + wc_upn_last_value(substr(s, 13, 1)) * 13) % 23) + 1, 1)
                 = substr(s, 1, 1),
             false);
"""


def install_sql_macros(con: duckdb.DuckDBPyConnection) -> None:
    """wc_is_valid_nhs_number(text) and wc_is_valid_upn(text) on this connection (temporary macros: they
    live with the connection, and nothing is written to the database file)."""
    from orchestration.duckdb_files import first_time

    if first_time(con, "wc_macros"):
        con.execute(_SQL_MACROS)
