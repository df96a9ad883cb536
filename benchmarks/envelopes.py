"""Signed request bodies, made before any clock starts.

Each envelope is a fresh version-1 record with its own id, signed as an agency signs:
Ed25519 over the RFC 8785 bytes, detached JWS of type ``exchange-record+jws``.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks.instance import Caller
from exchange.demo.records import make_envelope
from keys.jcs import canonicalize
from keys.jws import sign_detached
from schemas import RECORD_SIGNATURE_TYPE

# Types an immigration agency may publish under the default policy.
PUBLISHABLE = ("broker", "illegal_employment")


class EnvelopeMaker:
    """Valid envelopes for one publisher, with distinct ids, reproducible from a seed."""

    def __init__(self, caller: Caller, *, seed: int) -> None:
        self.caller = caller
        self.kid = caller.kid
        self.rng = random.Random(seed)
        # Issued a little in the past, so no envelope is ever ahead of the server's clock.
        self.now = datetime.now(UTC) - timedelta(minutes=1)

    def envelope(self) -> dict[str, Any]:
        record_type = PUBLISHABLE[self.rng.random() < 0.4]
        return make_envelope(record_type, publisher=self.caller.agency, rng=self.rng, now=self.now)

    def sign(self, envelope: dict[str, Any]) -> str:
        return sign_detached(
            canonicalize(envelope),
            key=self.caller.signing_key,
            kid=self.kid,
            typ=RECORD_SIGNATURE_TYPE,
        )

    def submission(self, *, open_audience: bool = False) -> dict[str, Any]:
        """A signed submission; ``open_audience`` drops ``handling.audience`` (all may read)."""
        envelope = self.envelope()
        if open_audience:
            envelope["handling"] = dict(envelope["handling"], audience=None)
        return {"record": envelope, "signature": self.sign(envelope)}

    def single_bodies(self, count: int) -> tuple[list[bytes], list[str]]:
        """``count`` single-record bodies and their record ids."""
        bodies, ids = [], []
        for _ in range(count):
            submission = self.submission()
            ids.append(submission["record"]["id"])
            bodies.append(_encode(submission))
        return bodies, ids

    def batch_bodies(self, count: int, size: int) -> list[bytes]:
        """``count`` bodies of ``size`` records each."""
        return [
            _encode({"records": [self.submission() for _ in range(size)]}) for _ in range(count)
        ]


def _encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
