"""Record envelopes take the fast RFC 8785 path; its bytes equal the reference's."""

from __future__ import annotations

import rfc8785

from exchange.demo.records import demo_envelopes
from keys.jcs import canonicalize


class TestCanonicalEnvelopes:
    def test_demo_envelopes_agree_with_the_reference_implementation(self) -> None:
        for envelope in demo_envelopes(count=96, seed=3):
            assert canonicalize(envelope) == rfc8785.dumps(envelope)
