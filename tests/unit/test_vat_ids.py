"""EU VAT ids: national formats and check digits (the built-in validator)."""

from __future__ import annotations

import pytest

from rcommerce.domain.tax.vat import FormatVatValidator, check_vat_id, normalise_vat_id

# Published, registered ids (the check digits are right) per member state with an algorithm.
VALID = [
    "DE136695976", "ATU13585627", "BE0417497106", "BE0403170701", "FR40303265045", "IT00743110157",
    "NL004495445B01", "PL5260250274", "ESA28015865", "ESB58378431", "ES12345678Z", "ESX1234567L", "ESQ2818015F",
]  # fmt: skip

# The same ids with one digit changed: the format holds, the check digit does not.
BAD_CHECKSUM = [
    "DE136695977", "ATU13585628", "BE0417497107", "FR41303265045", "IT00743110158", "NL004495446B01",
    "PL5260250275", "ESA28015866", "ES12345678A", "ESQ2818015G",
]  # fmt: skip


@pytest.mark.parametrize("vat_id", VALID)
def test_valid_ids(vat_id: str) -> None:
    verdict = check_vat_id(vat_id)
    assert (verdict.valid, verdict.reason, verdict.vat_id, verdict.country) == (True, "", vat_id, vat_id[:2])


@pytest.mark.parametrize("vat_id", BAD_CHECKSUM)
def test_bad_check_digits(vat_id: str) -> None:
    verdict = check_vat_id(vat_id)
    assert (verdict.valid, verdict.reason) == (False, "checksum")


@pytest.mark.parametrize(
    "vat_id",
    ["", "DE", "DE12345678", "DE1234567890", "ATU1234567", "AT12345678", "FRI0303265045", "NL004495445A01", "XX123456789",
     "US123456789", "123456789", "BE2417497106", "ES1234567"],
)  # fmt: skip
def test_bad_formats(vat_id: str) -> None:
    verdict = check_vat_id(vat_id)
    assert (verdict.valid, verdict.reason) == (False, "format")


@pytest.mark.parametrize(
    ("vat_id", "country"),
    [
        ("DK13585628", "DK"),
        ("EL094259216", "GR"),
        ("SE556703748501", "SE"),
        ("IE6388047V", "IE"),
        ("CY10259033P", "CY"),
    ],
)
def test_format_only_member_states(vat_id: str, country: str) -> None:
    verdict = check_vat_id(vat_id)
    assert (verdict.valid, verdict.country) == (True, country)


def test_normalisation() -> None:
    assert normalise_vat_id(" de 136.695-976 ") == "DE136695976"
    assert check_vat_id("de 136 695 976").vat_id == "DE136695976"


def test_new_dutch_sole_trader_ids_use_mod_97() -> None:
    # NL + 9 digits + B + 2 digits where "NL" + id is 1 mod 97 (N=23, L=21, B=11).
    assert check_vat_id("NL000099998B57").valid
    assert not check_vat_id("NL000099998B58").valid


async def test_builtin_validator_answers_without_io() -> None:
    validator = FormatVatValidator()
    assert validator.code == "format"
    assert (await validator.validate("FR40303265045")).valid
    assert (await validator.validate("FR41303265045")).reason == "checksum"
