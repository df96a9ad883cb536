import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from keys import (
    KeyFormatInvalid,
    PrivateSigningKey,
    ProofInvalid,
    generate_signing_key,
    make_proof,
    private_jwk,
    public_jwk,
    sign_compact,
    sign_detached,
    thumbprint,
)
from keys.pop import PROOF_TYPE, verify_proof

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@pytest.fixture(params=["Ed25519", "ES256"])
def key(request: pytest.FixtureRequest) -> PrivateSigningKey:
    return generate_signing_key(request.param)


class TestProofOfPossession:
    def test_valid_proof(self, key: PrivateSigningKey) -> None:
        token = make_proof(key=key, agency="isa", now=NOW)
        verify_proof(token, jwk=public_jwk(key), agency="isa", now=NOW + timedelta(seconds=30))

    def test_payload_and_header(self, key: PrivateSigningKey) -> None:
        token = make_proof(key=key, agency="isa", now=NOW)
        header_segment, payload_segment, _ = token.split(".")
        header = json.loads(base64.urlsafe_b64decode(header_segment + "=="))
        payload = base64.urlsafe_b64decode(payload_segment + "==")
        kid = thumbprint(public_jwk(key))
        assert header["typ"] == PROOF_TYPE
        assert header["kid"] == kid
        assert payload == f'{{"agency":"isa","iat":{int(NOW.timestamp())},"kid":"{kid}"}}'.encode()

    def test_wrong_agency(self, key: PrivateSigningKey) -> None:
        token = make_proof(key=key, agency="isa", now=NOW)
        with pytest.raises(ProofInvalid) as caught:
            verify_proof(token, jwk=public_jwk(key), agency="npa", now=NOW)
        assert caught.value.code == "proof_invalid"

    def test_stale(self, key: PrivateSigningKey) -> None:
        token = make_proof(key=key, agency="isa", now=NOW)
        verify_proof(token, jwk=public_jwk(key), agency="isa", now=NOW + timedelta(seconds=600))
        with pytest.raises(ProofInvalid, match="too old"):
            verify_proof(token, jwk=public_jwk(key), agency="isa", now=NOW + timedelta(seconds=601))

    def test_custom_max_age(self, key: PrivateSigningKey) -> None:
        token = make_proof(key=key, agency="isa", now=NOW)
        with pytest.raises(ProofInvalid):
            verify_proof(
                token,
                jwk=public_jwk(key),
                agency="isa",
                now=NOW + timedelta(seconds=61),
                max_age_seconds=60,
            )

    def test_dated_in_the_future(self, key: PrivateSigningKey) -> None:
        token = make_proof(key=key, agency="isa", now=NOW + timedelta(seconds=60))
        verify_proof(token, jwk=public_jwk(key), agency="isa", now=NOW)
        token = make_proof(key=key, agency="isa", now=NOW + timedelta(seconds=61))
        with pytest.raises(ProofInvalid, match="future"):
            verify_proof(token, jwk=public_jwk(key), agency="isa", now=NOW)

    def test_wrong_key(self, key: PrivateSigningKey) -> None:
        other = generate_signing_key("Ed25519")
        token = make_proof(key=other, agency="isa", now=NOW)
        with pytest.raises(ProofInvalid):
            verify_proof(token, jwk=public_jwk(key), agency="isa", now=NOW)

    def test_signed_by_the_key_but_for_another_kid(self, key: PrivateSigningKey) -> None:
        claims = {"agency": "isa", "kid": "someone-else", "iat": int(NOW.timestamp())}
        token = sign_compact(
            json.dumps(claims).encode(), key=key, kid=thumbprint(public_jwk(key)), typ=PROOF_TYPE
        )
        with pytest.raises(ProofInvalid, match="another key"):
            verify_proof(token, jwk=public_jwk(key), agency="isa", now=NOW)

    @pytest.mark.parametrize(
        "payload",
        [
            b"not json",
            b"[]",
            b'{"agency":"isa"}',
            b'{"agency":"isa","kid":"K","iat":1,"extra":1}',
            b'{"agency":"isa","kid":"K","iat":"1795600000"}',
            b'{"agency":"isa","kid":"K","iat":true}',
            b'{"agency":"isa","kid":"K","iat":1795600000.5}',
            b"\xff",
        ],
    )
    def test_malformed_payload(self, key: PrivateSigningKey, payload: bytes) -> None:
        kid = thumbprint(public_jwk(key))
        token = sign_compact(
            payload.replace(b'"K"', f'"{kid}"'.encode()), key=key, kid=kid, typ=PROOF_TYPE
        )
        with pytest.raises(ProofInvalid):
            verify_proof(token, jwk=public_jwk(key), agency="isa", now=NOW)

    def test_other_token_types_are_not_proofs(self, key: PrivateSigningKey) -> None:
        kid = thumbprint(public_jwk(key))
        payload = json.dumps({"agency": "isa", "kid": kid, "iat": int(NOW.timestamp())}).encode()
        record_signature = sign_compact(payload, key=key, kid=kid, typ="exchange-record+jws")
        detached = sign_detached(payload, key=key, kid=kid, typ=PROOF_TYPE)
        for token in (record_signature, detached, "garbage", ""):
            with pytest.raises(ProofInvalid):
                verify_proof(token, jwk=public_jwk(key), agency="isa", now=NOW)

    def test_private_jwk_is_refused(self, key: PrivateSigningKey) -> None:
        token = make_proof(key=key, agency="isa", now=NOW)
        with pytest.raises(KeyFormatInvalid):
            verify_proof(token, jwk=private_jwk(key), agency="isa", now=NOW)

    def test_naive_time_is_refused(self, key: PrivateSigningKey) -> None:
        with pytest.raises(ValueError):
            make_proof(key=key, agency="isa", now=datetime(2026, 11, 25, 10, 0))
