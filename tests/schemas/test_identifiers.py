from __future__ import annotations

import pytest

from schemas import (
    corporate_number_check_digit,
    is_agency_id,
    is_corporate_number,
    is_country_code,
    is_municipality_code,
    is_prefecture_code,
    is_record_id,
    is_residence_card_number,
    is_residence_card_token,
    is_supervising_licence,
    municipality_check_digit,
    normalise_residence_card_number,
    residence_card_token,
)
from schemas.countries import COUNTRY_CODES

CORPORATE_NUMBERS = ["4011001098993", "2120901007402", "7123456789012"]
MATCHING_KEY = b"k" * 32


def _one_digit_changed(value: str, *, except_nine_apart: bool = False) -> list[str]:
    """Every string that differs from ``value`` in exactly one digit position."""
    return [
        value[:i] + digit + value[i + 1 :]
        for i in range(len(value))
        for digit in "0123456789"
        if digit != value[i] and not (except_nine_apart and {digit, value[i]} == {"0", "9"})
    ]


class TestCorporateNumber:
    @pytest.mark.parametrize("number", CORPORATE_NUMBERS)
    def test_vectors_are_valid(self, number: str) -> None:
        assert is_corporate_number(number)
        assert corporate_number_check_digit(number[1:]) == int(number[0])

    @pytest.mark.parametrize("number", CORPORATE_NUMBERS)
    def test_a_single_digit_change_is_detected(self, number: str) -> None:
        variants = _one_digit_changed(number, except_nine_apart=True)
        assert not any(is_corporate_number(variant) for variant in variants)

    def test_mod_9_cannot_tell_0_from_9(self) -> None:
        # Weights 1 and 2 modulo 9 change nothing when a digit moves by 9: a limit of the
        # National Tax Agency's scheme, not of this implementation.
        assert is_corporate_number("4911001098993")

    @pytest.mark.parametrize(
        "value",
        ["", "401100109899", "40110010989930", "401100109899a", "４011001098993", " 4011001098993"],
    )
    def test_malformed_values_are_invalid(self, value: str) -> None:
        assert not is_corporate_number(value)

    def test_check_digit_needs_twelve_ascii_digits(self) -> None:
        with pytest.raises(ValueError):
            corporate_number_check_digit("01100109899")


class TestSupervisingLicence:
    def test_valid(self) -> None:
        assert is_supervising_licence("許1713000123")

    @pytest.mark.parametrize(
        "value",
        ["許171300012", "許17130001234", "1713000123", "許１７１３０００１２３", "許1713000123\n"],
    )
    def test_invalid(self, value: str) -> None:
        assert not is_supervising_licence(value)


class TestPrefectureCode:
    @pytest.mark.parametrize("value", ["01", "08", "13", "47"])
    def test_valid(self, value: str) -> None:
        assert is_prefecture_code(value)

    @pytest.mark.parametrize("value", ["00", "48", "1", "013", "０１", "99"])
    def test_invalid(self, value: str) -> None:
        assert not is_prefecture_code(value)


# JIS X 0402 codes of real municipalities, check digit included.
REAL_MUNICIPALITIES = {
    "131016": "千代田区",
    "131041": "新宿区 (weighted sum ≡ 0 mod 11: check digit 1)",
    "131130": "渋谷区 (weighted sum ≡ 1 mod 11: check digit 0)",
    "011002": "札幌市",
    "011011": "札幌市中央区",
    "141003": "横浜市",
    "271004": "大阪市",
    "231002": "名古屋市",
    "082015": "水戸市",
    "121002": "千葉市",
    "102016": "前橋市",
    "112089": "所沢市",
    "401307": "福岡市",
}


class TestMunicipalityCode:
    @pytest.mark.parametrize("code", sorted(REAL_MUNICIPALITIES))
    def test_real_codes_are_valid(self, code: str) -> None:
        assert is_municipality_code(code)
        assert municipality_check_digit(code[:5]) == int(code[5])

    @pytest.mark.parametrize("code", sorted(REAL_MUNICIPALITIES))
    def test_a_wrong_check_digit_is_invalid(self, code: str) -> None:
        wrong = [code[:5] + digit for digit in "0123456789" if digit != code[5]]
        assert not any(is_municipality_code(variant) for variant in wrong)

    @pytest.mark.parametrize(
        "value",
        [
            "481009",  # no prefecture 48
            "000001",
            "130001",  # the prefecture's own code, not a municipality
            "13101",
            "1310160",
            "１３１０１６",
        ],
    )
    def test_invalid(self, value: str) -> None:
        assert not is_municipality_code(value)


class TestCountryCode:
    @pytest.mark.parametrize("value", ["JP", "VN", "GB", "MM", "NP", "CN"])
    def test_assigned_codes_are_valid(self, value: str) -> None:
        assert is_country_code(value)

    @pytest.mark.parametrize("value", ["XX", "jp", "UK", "EU", "ZZ", "J", "JPN", ""])
    def test_unassigned_or_malformed_codes_are_invalid(self, value: str) -> None:
        assert not is_country_code(value)

    def test_the_full_list_is_loaded(self) -> None:
        assert len(COUNTRY_CODES) == 249


class TestResidenceCardNumber:
    def test_printed_form_is_valid(self) -> None:
        assert is_residence_card_number("AB12345678CD")

    @pytest.mark.parametrize(
        "value",
        [
            "ab12345678cd",
            "AB1234567CD",
            "AB12345678C",
            "AB 1234 5678 CD",
            "AB12345678CD\n",
            "ＡＢ12345678CD",
        ],
    )
    def test_other_forms_are_not_numbers(self, value: str) -> None:
        assert not is_residence_card_number(value)

    @pytest.mark.parametrize(
        "typed",
        [
            "ab12345678cd",
            "AB 1234 5678 CD",
            "AB-1234-5678-CD",
            "ＡＢ１２３４５６７８ＣＤ",
            "ab　12345678　cd",
        ],
    )
    def test_typed_forms_normalise_to_the_printed_form(self, typed: str) -> None:
        assert normalise_residence_card_number(typed) == "AB12345678CD"


class TestResidenceCardToken:
    def test_token_shape(self) -> None:
        token = residence_card_token("AB12345678CD", key=MATCHING_KEY)
        assert token.startswith("rct1_")
        assert is_residence_card_token(token)

    def test_every_typed_form_gives_the_same_token(self) -> None:
        tokens = {
            residence_card_token(typed, key=MATCHING_KEY)
            for typed in ["AB12345678CD", "ab 1234 5678 cd", "ＡＢ１２３４５６７８ＣＤ"]
        }
        assert len(tokens) == 1

    def test_the_key_matters(self) -> None:
        assert residence_card_token("AB12345678CD", key=MATCHING_KEY) != residence_card_token(
            "AB12345678CD", key=b"x" * 32
        )

    def test_known_value(self) -> None:
        # HMAC-SHA256 (RFC 2104) with key "k"*32 over "AB12345678CD", base64url without padding.
        import base64
        import hashlib
        import hmac

        digest = hmac.new(MATCHING_KEY, b"AB12345678CD", hashlib.sha256).digest()
        expected = "rct1_" + base64.urlsafe_b64encode(digest).decode().rstrip("=")
        assert residence_card_token("ab-1234-5678-cd", key=MATCHING_KEY) == expected

    @pytest.mark.parametrize("number", ["", "AB1234567CD", "ABCDEFGHIJKL", "AB12345678CD1"])
    def test_not_a_card_number_raises(self, number: str) -> None:
        with pytest.raises(ValueError):
            residence_card_token(number, key=MATCHING_KEY)

    def test_a_short_key_raises(self) -> None:
        with pytest.raises(ValueError):
            residence_card_token("AB12345678CD", key=b"short")

    @pytest.mark.parametrize(
        "value",
        [
            "AB12345678CD",  # a raw number is never a token
            "rct1_" + "A" * 42,
            "rct1_" + "A" * 44,
            "rct2_" + "A" * 43,
            "rct1_" + "A" * 42 + "=",
            "rct1_" + "A" * 42 + "B",  # non-canonical: the spare bits are not zero
            "rct1_" + "A" * 43 + "\n",
        ],
    )
    def test_invalid_tokens(self, value: str) -> None:
        assert not is_residence_card_token(value)


class TestRecordId:
    def test_lower_case_canonical_uuid_is_valid(self) -> None:
        assert is_record_id("0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b")

    @pytest.mark.parametrize(
        "value",
        [
            "0193A1B2-7C3D-7E4F-8A9B-0C1D2E3F4A5B",
            "0193a1b27c3d7e4f8a9b0c1d2e3f4a5b",
            "{0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b}",
            "urn:uuid:0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
            "00000000-0000-0000-0000-000000000000",
        ],
    )
    def test_other_spellings_are_invalid(self, value: str) -> None:
        assert not is_record_id(value)


class TestAgencyId:
    @pytest.mark.parametrize("value", ["isa", "ibaraki-pp", "tokyo-lb", "np"])
    def test_valid(self, value: str) -> None:
        assert is_agency_id(value)

    @pytest.mark.parametrize("value", ["", "a", "ISA", "1isa", "isa_pp", "i" * 33, "isa\n"])
    def test_invalid(self, value: str) -> None:
        assert not is_agency_id(value)
