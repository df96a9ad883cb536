"""The strict JSON reader, without a server."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.jsonbody import nesting_depth, parse_json
from exchange.problems import Problem


class TestNestingDepth:
    @pytest.mark.parametrize(
        ("body", "too_deep"),
        [
            (b"{}", False),
            (b'{"a": [1, {"b": []}]}', False),
            (b'{"a": "' + b"[" * 50 + b'"}', False),
            (b'{"a": "\\"' + b"[" * 50 + b'\\""}', False),
            (b"[" * 4 + b"[], " * 100 + b"]" * 4, False),
            (b"[" * 5 + b"]" * 5, False),
            (b"[" * 6 + b"]" * 6, True),
            (b'{"a": ' * 6 + b"1" + b"}" * 6, True),
        ],
    )
    def test_only_brackets_outside_strings_count(self, body: bytes, too_deep: bool) -> None:
        assert (nesting_depth(body, 5) > 5) is too_deep

    @given(
        st.lists(
            st.sampled_from([b"[", b"]", b"{", b"}", b"1,", b'"[{"', b'"\\"]"', b'"\\\\"']),
            max_size=80,
        ),
        st.integers(min_value=0, max_value=12),
    )
    def test_agrees_with_counting_one_bracket_at_a_time(
        self, parts: list[bytes], limit: int
    ) -> None:
        body = b"".join(parts)
        outside = b"".join(part for part in parts if not part.startswith(b'"'))
        depth = deepest = 0
        for byte in outside:
            if byte in b"[{":
                depth += 1
                deepest = max(deepest, depth)
            elif byte in b"]}":
                depth -= 1
        assert (nesting_depth(body, limit) > limit) is (deepest > limit)
        if deepest <= limit:
            assert nesting_depth(body, limit) <= limit

    @pytest.mark.parametrize("depth", [1, 7, 32, 33])
    def test_balanced_bodies_give_their_depth(self, depth: int) -> None:
        body = b"[" * depth + b"[],{}," * 40 + b"]" * depth
        assert nesting_depth(body, 32) == min(depth + 1, 33)

    @pytest.mark.parametrize(
        "body",
        [
            b'\\"' + b"[" * 5000,
            b'"' + b"[" * 5000,
            b"[" * 5000 + b'"',
            b'["\\\\"' + b"[" * 5000,
            b"]" * 40 + b"[" * 5000 + b"]" * 5000,
            b'[1, \\"' + b"{" * 5000,
        ],
    )
    def test_hostile_bodies_are_refused_without_deep_parsing(self, body: bytes) -> None:
        with pytest.raises(Problem) as refused:
            parse_json(body, max_depth=32)
        assert refused.value.code in {"json_invalid", "json_too_deep"}

    def test_depth_limit_refuses_before_parsing(self) -> None:
        with pytest.raises(Problem) as refused:
            parse_json(b"[" * 100_000 + b"]" * 100_000, max_depth=32)
        assert refused.value.code == "json_too_deep"


class TestParse:
    def test_accepts_plain_json(self) -> None:
        assert parse_json('{"名前": "ベトナム", "n": 1}'.encode(), max_depth=8) == {
            "名前": "ベトナム",
            "n": 1,
        }

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            (b'{"a": 1, "a": 2}', "json_duplicate_key"),
            (b'{"a": Infinity}', "json_invalid"),
            (b"\xc3\x28", "encoding_invalid"),
            (b"", "body_required"),
            (b"{", "json_invalid"),
        ],
    )
    def test_refusals(self, body: bytes, code: str) -> None:
        with pytest.raises(Problem) as refused:
            parse_json(body, max_depth=8)
        assert refused.value.code == code
