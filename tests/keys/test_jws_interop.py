"""Tokens from keys.jws and from joserfc, an independent JOSE implementation, must agree."""

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc import jws
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, OKPKey

from keys import (
    PrivateSigningKey,
    algorithm_for,
    generate_signing_key,
    sign_compact,
    sign_detached,
    verify_compact,
    verify_detached,
)

ENVELOPE = '{"id":"0193a1b2","publisher":"isa","payload":{"name":"山田"}}'.encode()
RECORD_TYPE = "exchange-record+jws"


def _joserfc_key(key: PrivateSigningKey) -> OKPKey | ECKey:
    if isinstance(key, Ed25519PrivateKey):
        return OKPKey.import_key(key)
    return ECKey.import_key(key)


@pytest.fixture(params=["Ed25519", "ES256"])
def key(request: pytest.FixtureRequest) -> PrivateSigningKey:
    return generate_signing_key(request.param)


class TestJoserfcInterop:
    def test_joserfc_verifies_our_detached_signature(self, key: PrivateSigningKey) -> None:
        token = sign_detached(ENVELOPE, key=key, kid="k1", typ=RECORD_TYPE)
        verified = jws.deserialize_compact(
            token,
            _joserfc_key(key),
            algorithms=[algorithm_for(key)],
            payload=ENVELOPE,
        )
        assert verified.headers() == {"alg": algorithm_for(key), "kid": "k1", "typ": RECORD_TYPE}

    def test_joserfc_verifies_our_compact_signature(self, key: PrivateSigningKey) -> None:
        token = sign_compact(b'{"receipt":true}', key=key, kid="ex", typ="receipt+jws")
        verified = jws.deserialize_compact(token, _joserfc_key(key), [algorithm_for(key)])
        assert verified.payload == b'{"receipt":true}'

    def test_we_verify_joserfc_detached_signature(self, key: PrivateSigningKey) -> None:
        alg = algorithm_for(key)
        attached = jws.serialize_compact(
            {"alg": alg, "kid": "k1", "typ": RECORD_TYPE},
            ENVELOPE,
            _joserfc_key(key),
            algorithms=[alg],
        )
        token = jws.detach_content(attached)
        header = verify_detached(token, ENVELOPE, key=key.public_key(), typ=RECORD_TYPE)
        assert header.alg == alg
        assert verify_compact(attached, key=key.public_key())[1] == ENVELOPE

    def test_we_verify_joserfc_eddsa_signature(self) -> None:
        key = generate_signing_key("Ed25519")
        with pytest.warns(SecurityWarning):
            attached = jws.serialize_compact(
                {"alg": "EdDSA", "kid": "old-client"},
                ENVELOPE,
                _joserfc_key(key),
                algorithms=["EdDSA"],
            )
        header = verify_detached(jws.detach_content(attached), ENVELOPE, key=key.public_key())
        assert header.alg == "EdDSA"
