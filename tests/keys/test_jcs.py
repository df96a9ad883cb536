import math
import struct

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from keys import CanonicalizationError, canonicalize


def _double(bits: str) -> float:
    value: float = struct.unpack(">d", bytes.fromhex(bits))[0]
    return value


class TestCanonicalize:
    def test_rfc8785_section_3_2_2_example(self) -> None:
        value = {
            "numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001],
            "string": "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/",
            "literals": [None, True, False],
        }
        assert (
            canonicalize(value)
            == (
                '{"literals":[null,true,false],'
                '"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
                '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
            ).encode()
        )

    def test_rfc8785_section_3_2_3_sorts_keys_by_utf16_code_units(self) -> None:
        value = {
            "\u20ac": "Euro Sign",
            "\r": "Carriage Return",
            "\ufb33": "Hebrew Letter Dalet With Dagesh",
            "1": "One",
            "\U0001f600": "Emoji: Grinning Face",
            "\u0080": "Control",
            "\u00f6": "Latin Small Letter O With Diaeresis",
        }
        keys_in_order = ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]
        expected = "{" + ",".join(f'"{k}":"{value[k]}"' for k in keys_in_order) + "}"
        # U+1F600 is the surrogate pair D83D DE00, so it sorts before U+FB33 although its
        # code point is larger.
        assert canonicalize(value) == expected.replace("\r", "\\r").encode("utf-8")

    def test_japanese_keys_sort_by_code_unit(self) -> None:
        assert canonicalize({"機関": 1, "ア": 2, "a": 3}) == '{"a":3,"ア":2,"機関":1}'.encode()

    @pytest.mark.parametrize(
        ("bits", "expected"),
        [
            # RFC 8785 appendix B
            ("0000000000000000", "0"),
            ("8000000000000000", "0"),
            ("0000000000000001", "5e-324"),
            ("8000000000000001", "-5e-324"),
            ("7fefffffffffffff", "1.7976931348623157e+308"),
            ("ffefffffffffffff", "-1.7976931348623157e+308"),
            ("4340000000000000", "9007199254740992"),
            ("c340000000000000", "-9007199254740992"),
            ("4430000000000000", "295147905179352830000"),
            ("44b52d02c7e14af5", "9.999999999999997e+22"),
            ("44b52d02c7e14af6", "1e+23"),
            ("44b52d02c7e14af7", "1.0000000000000001e+23"),
            ("444b1ae4d6e2ef4e", "999999999999999700000"),
            ("444b1ae4d6e2ef4f", "999999999999999900000"),
            ("444b1ae4d6e2ef50", "1e+21"),
            ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
            ("3eb0c6f7a0b5ed8d", "0.000001"),
            ("41b3de4355555553", "333333333.3333332"),
            ("41b3de4355555554", "333333333.33333325"),
            ("41b3de4355555555", "333333333.3333333"),
            ("41b3de4355555556", "333333333.3333334"),
            ("41b3de4355555557", "333333333.33333343"),
            ("becbf647612f3696", "-0.0000033333333333333333"),
            ("43143ff3c1cb0959", "1424953923781206.2"),
        ],
    )
    def test_rfc8785_appendix_b_numbers(self, bits: str, expected: str) -> None:
        assert canonicalize(_double(bits)) == expected.encode()

    def test_number_formatting_edges(self) -> None:
        assert canonicalize([1e21, 1e20, -0.0, 1.0, 1e-7, 2**53 - 1]) == (
            b"[1e+21,100000000000000000000,0,1,1e-7,9007199254740991]"
        )

    @pytest.mark.parametrize(
        "value",
        [
            math.nan,
            math.inf,
            -math.inf,
            {1: "non-string key"},
            2**53,
            -(2**53),
            {"set": {1, 2}},
            b"bytes",
            {"\ud800": "lone surrogate key"},
            "lone surrogate \udfff",
            object(),
        ],
        ids=repr,
    )
    def test_values_without_a_canonical_form_are_refused(self, value: object) -> None:
        with pytest.raises(CanonicalizationError) as caught:
            canonicalize(value)
        assert caught.value.code == "canonicalization_failed"

    def test_cyclic_value_is_refused(self) -> None:
        cycle: list[object] = []
        cycle.append(cycle)
        with pytest.raises(CanonicalizationError):
            canonicalize(cycle)


_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.text(st.characters(codec="utf-8"), max_size=20)
)
_json_values = st.recursive(
    _json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


class TestFastPath:
    @settings(max_examples=400, deadline=None)
    @given(_json_values)
    def test_agrees_with_the_reference_implementation(self, value: object) -> None:
        assert canonicalize(value) == rfc8785.dumps(value)  # type: ignore[arg-type]
