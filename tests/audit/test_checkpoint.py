"""C2SP tlog-checkpoint bodies."""

import pytest

from audit.checkpoint import Checkpoint
from audit.errors import CheckpointError
from tests.audit.vectors import ARCHE_BODY

ROOT = bytes(range(32))
ROOT_B64 = b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="


class TestCheckpoint:
    def test_body(self) -> None:
        checkpoint = Checkpoint(origin="example.com/log", size=42, root=ROOT)
        assert checkpoint.body() == b"example.com/log\n42\n" + ROOT_B64 + b"\n"

    def test_round_trip_with_extensions(self) -> None:
        checkpoint = Checkpoint(origin="o", size=0, root=ROOT, extensions=("ext one", "two"))
        assert Checkpoint.parse(checkpoint.body()) == checkpoint

    def test_published_checkpoint(self) -> None:
        checkpoint = Checkpoint.parse(ARCHE_BODY)
        assert checkpoint.origin == "arche2025h1.staging.ct.transparency.dev"
        assert checkpoint.size == 1432088532
        assert checkpoint.body() == ARCHE_BODY

    @pytest.mark.parametrize(
        "body",
        [
            b"o\n42\n" + ROOT_B64,  # no final newline
            b"o\n42\n",  # no root
            b"\n42\n" + ROOT_B64 + b"\n",  # empty origin
            b"o\n042\n" + ROOT_B64 + b"\n",  # leading zero
            b"o\n+42\n" + ROOT_B64 + b"\n",
            b"o\n 42\n" + ROOT_B64 + b"\n",
            b"o\n4_2\n" + ROOT_B64 + b"\n",
            "o\n\u0664\u0662\n".encode() + ROOT_B64 + b"\n",  # non-ASCII digits
            b"o\n18446744073709551616\n" + ROOT_B64 + b"\n",  # beyond uint64
            b"o\n" + b"9" * 5000 + b"\n" + ROOT_B64 + b"\n",
            b"o\n42\n" + ROOT_B64[:-4] + b"\n",  # 30-byte root
            b"o\n42\nnot base64!\n",
            b"o\n42\n" + ROOT_B64[:-2] + b"9=\n",  # non-canonical base64
            b"o\n42\n" + ROOT_B64 + b"\n\n",  # empty extension line
            b"o\t1\n42\n" + ROOT_B64 + b"\n",  # control character
            b"\xff\n42\n" + ROOT_B64 + b"\n",  # not UTF-8
        ],
    )
    def test_parse_is_strict(self, body: bytes) -> None:
        with pytest.raises(CheckpointError):
            Checkpoint.parse(body)

    @pytest.mark.parametrize(
        "fields",
        [
            {"origin": "", "size": 1, "root": ROOT},
            {"origin": "a\nb", "size": 1, "root": ROOT},
            {"origin": "o", "size": -1, "root": ROOT},
            {"origin": "o", "size": 1, "root": ROOT[:31]},
            {"origin": "o", "size": 1, "root": ROOT, "extensions": ("",)},
        ],
    )
    def test_construction_is_checked(self, fields: dict[str, object]) -> None:
        with pytest.raises(CheckpointError):
            Checkpoint(**fields)  # type: ignore[arg-type]
