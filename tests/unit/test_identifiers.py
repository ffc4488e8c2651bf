import duckdb
import numpy as np
import pytest

from orchestration.identifiers import (
    install_sql_macros,
    is_valid_nhs_number,
    is_valid_upn,
    nhs_check_digit,
    nhs_numbers_from_serials,
    upn_check_letter,
    upn_check_letters,
)


def test_upn_check_letter_worked_examples():
    # docs/domain.md §6.1: Dudley 332, establishment 2001, year 18, serial 001 -> F
    assert upn_check_letter("332200118001") == "F"
    assert upn_check_letter("801200005001") == "B"  # python-stdnum's example
    assert upn_check_letter("33220011801A") == "E"  # temporary UPN, final letter counts as 0


def test_upn_validity():
    assert is_valid_upn("F332200118001")
    assert not is_valid_upn("A332200118001")  # wrong check letter
    assert not is_valid_upn("I332200118001")  # I is never a check letter
    assert not is_valid_upn("F33220011800")  # too short
    assert not is_valid_upn(None)


def test_nhs_number_modulus_11():
    assert nhs_check_digit("943476591") == 9
    assert is_valid_nhs_number("9434765919")
    assert is_valid_nhs_number("943 476 5919")
    assert not is_valid_nhs_number("9434765918")
    assert is_valid_nhs_number("9990000018")
    assert not is_valid_nhs_number("123")


def test_nine_digits_with_check_ten_never_form_a_number():
    # 11 - (sum mod 11) == 10 has no digit: the generator must skip such serials
    found = next(f"{n:09d}" for n in range(1_000_000) if nhs_check_digit(f"{n:09d}") is None)
    assert all(not is_valid_nhs_number(found + str(d)) for d in range(10))


def test_vectorised_generators_agree_with_scalar_rules():
    rng = np.random.default_rng(1)
    numbers = nhs_numbers_from_serials(rng.choice(1_000_000, 500, replace=False))
    valid = numbers[numbers != ""]
    assert len(valid) > 400
    assert all(is_valid_nhs_number(n) and n.startswith("999") for n in valid)
    bodies = np.array([f"332{rng.integers(0, 10**9):09d}" for _ in range(200)])
    letters = upn_check_letters(bodies)
    assert all(upn_check_letter(b) == c for b, c in zip(bodies, letters, strict=True))


@pytest.mark.parametrize(
    "value",
    [
        "9434765919",
        "9434765918",
        "9990000018",
        "abc",
        "",
        None,
        "99900000189",
        "F332200118001",
        "A332200118001",
        "B801200005001",
        "E33220011801A",
        "E33220011801I",
    ],
)
def test_sql_macros_agree_with_python(value):
    con = duckdb.connect()
    install_sql_macros(con)
    nhs, upn = con.execute("select wc_is_valid_nhs_number(?), wc_is_valid_upn(?)", [value, value]).fetchall()[
        0
    ]
    assert nhs == is_valid_nhs_number(value)
    assert upn == is_valid_upn(value)
