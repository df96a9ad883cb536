import base64
import json
from collections.abc import Mapping

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from keys import (
    Error,
    MalformedSignature,
    PrivateSigningKey,
    SignatureInvalid,
    UnsupportedAlgorithm,
    generate_signing_key,
    load_private_jwk,
    load_public_jwk,
    public_jwk,
    read_header,
    sign_compact,
    sign_detached,
    thumbprint,
    verify_compact,
    verify_detached,
)
from keys.jws import _check_signature, _signature
from tests.keys.vectors import SMALL_ORDER_ENCODINGS, TRIVIAL_FORGERY

RECORD_TYPE = "exchange-record+jws"
# RFC 8037 appendix A.1 and A.4
RFC8037_PRIVATE_JWK = {
    "kty": "OKP",
    "crv": "Ed25519",
    "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
    "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
}
RFC8037_A4_TOKEN = (
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
)
ENVELOPE = (
    b'{"id":"0193a1b2","payload":{"name":"\xe6\xa0\xaa\xe5\xbc\x8f\xe4\xbc\x9a\xe7\xa4\xbe"}}'
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _raw_signature(key: PrivateSigningKey, signing_input: bytes) -> bytes:
    if isinstance(key, Ed25519PrivateKey):
        return key.sign(signing_input)
    r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _forge(
    header: Mapping[str, object] | bytes,
    payload: bytes,
    key: PrivateSigningKey,
    *,
    detached: bool,
) -> str:
    """A correctly signed token with whatever header a test needs."""
    header_bytes = header if isinstance(header, bytes) else json.dumps(header).encode()
    signing_input = f"{_b64(header_bytes)}.{_b64(payload)}".encode()
    header_segment, payload_segment = signing_input.decode().split(".")
    signature = _b64(_raw_signature(key, signing_input))
    return f"{header_segment}.{'' if detached else payload_segment}.{signature}"


@pytest.fixture(params=["Ed25519", "ES256"])
def key(request: pytest.FixtureRequest) -> PrivateSigningKey:
    return generate_signing_key(request.param)


def _kid(key: PrivateSigningKey) -> str:
    return thumbprint(public_jwk(key))


class TestDetachedSignature:
    def test_round_trip(self, key: PrivateSigningKey) -> None:
        token = sign_detached(ENVELOPE, key=key, kid=_kid(key), typ=RECORD_TYPE)
        header_segment, middle, _ = token.split(".")
        assert middle == ""
        header = verify_detached(token, ENVELOPE, key=key.public_key(), typ=RECORD_TYPE)
        assert header.kid == _kid(key)
        assert header.typ == RECORD_TYPE
        assert header.alg in {"Ed25519", "ES256"}
        assert json.loads(base64.urlsafe_b64decode(header_segment + "==")) == {
            "alg": header.alg,
            "kid": _kid(key),
            "typ": RECORD_TYPE,
        }

    def test_typ_is_optional_for_the_verifier(self, key: PrivateSigningKey) -> None:
        token = sign_detached(ENVELOPE, key=key, kid="k", typ=RECORD_TYPE)
        assert verify_detached(token, ENVELOPE, key=key.public_key()).typ == RECORD_TYPE

    def test_typ_compares_as_a_media_type(self, key: PrivateSigningKey) -> None:
        # RFC 7515 §4.1.9: case-insensitive, "application/" implied
        token = sign_detached(ENVELOPE, key=key, kid="k", typ="application/Exchange-Record+JWS")
        verify_detached(token, ENVELOPE, key=key.public_key(), typ=RECORD_TYPE)

    def test_wrong_typ(self, key: PrivateSigningKey) -> None:
        token = sign_detached(ENVELOPE, key=key, kid="k", typ="exchange-receipt+jws")
        with pytest.raises(SignatureInvalid):
            verify_detached(token, ENVELOPE, key=key.public_key(), typ=RECORD_TYPE)

    def test_missing_typ_when_one_is_expected(self, key: PrivateSigningKey) -> None:
        alg = "Ed25519" if isinstance(key, Ed25519PrivateKey) else "ES256"
        token = _forge({"alg": alg, "kid": "k"}, ENVELOPE, key, detached=True)
        verify_detached(token, ENVELOPE, key=key.public_key())
        with pytest.raises(SignatureInvalid):
            verify_detached(token, ENVELOPE, key=key.public_key(), typ=RECORD_TYPE)

    def test_tampered_payload(self, key: PrivateSigningKey) -> None:
        token = sign_detached(ENVELOPE, key=key, kid="k", typ=RECORD_TYPE)
        with pytest.raises(SignatureInvalid):
            verify_detached(token, ENVELOPE.replace(b"0193", b"0194"), key=key.public_key())

    def test_tampered_header(self, key: PrivateSigningKey) -> None:
        token = sign_detached(ENVELOPE, key=key, kid="k", typ=RECORD_TYPE)
        header = read_header(token)
        forged_header = _b64(json.dumps({**header.raw, "kid": "other"}).encode())
        TRIVIAL_FORGERY = forged_header + token[token.index(".") :]
        with pytest.raises(SignatureInvalid):
            verify_detached(TRIVIAL_FORGERY, ENVELOPE, key=key.public_key())

    def test_tampered_signature(self, key: PrivateSigningKey) -> None:
        token = sign_detached(ENVELOPE, key=key, kid="k", typ=RECORD_TYPE)
        signature = bytearray(base64.urlsafe_b64decode(token.split(".")[2] + "=="))
        signature[10] ^= 1
        TRIVIAL_FORGERY = token[: token.rindex(".") + 1] + _b64(bytes(signature))
        with pytest.raises(SignatureInvalid):
            verify_detached(TRIVIAL_FORGERY, ENVELOPE, key=key.public_key())

    def test_wrong_key_of_the_same_type(self, key: PrivateSigningKey) -> None:
        other = generate_signing_key("Ed25519" if isinstance(key, Ed25519PrivateKey) else "ES256")
        token = sign_detached(ENVELOPE, key=key, kid="k", typ=RECORD_TYPE)
        with pytest.raises(SignatureInvalid):
            verify_detached(token, ENVELOPE, key=other.public_key())

    def test_payload_in_the_middle_part_is_refused(self, key: PrivateSigningKey) -> None:
        token = sign_compact(ENVELOPE, key=key, kid="k", typ=RECORD_TYPE)
        with pytest.raises(MalformedSignature):
            verify_detached(token, ENVELOPE, key=key.public_key())

    def test_private_key_is_not_a_verification_key(self, key: PrivateSigningKey) -> None:
        token = sign_detached(ENVELOPE, key=key, kid="k", typ=RECORD_TYPE)
        with pytest.raises(TypeError):
            verify_detached(token, ENVELOPE, key=key)  # type: ignore[arg-type]


class TestAlgorithms:
    def test_deprecated_eddsa_name_verifies_with_an_ed25519_key(self) -> None:
        key = generate_signing_key("Ed25519")
        header = {"alg": "EdDSA", "kid": "k", "typ": RECORD_TYPE}
        token = _forge(header, ENVELOPE, key, detached=True)
        assert verify_detached(token, ENVELOPE, key=key.public_key(), typ=RECORD_TYPE).alg == (
            "EdDSA"
        )

    def test_es256_signature_is_raw_r_and_s(self) -> None:
        key = generate_signing_key("ES256")
        token = sign_detached(ENVELOPE, key=key, kid="k", typ=RECORD_TYPE)
        signature = base64.urlsafe_b64decode(token.split(".")[2] + "==")
        assert len(signature) == 64

    def test_es256_der_signature_is_refused(self) -> None:
        key = generate_signing_key("ES256")
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        header_segment = _b64(b'{"alg":"ES256","kid":"k"}')
        signing_input = f"{header_segment}.{_b64(ENVELOPE)}".encode()
        der = key.sign(signing_input, ec.ECDSA(hashes.SHA256()))
        with pytest.raises(SignatureInvalid):
            verify_detached(f"{header_segment}..{_b64(der)}", ENVELOPE, key=key.public_key())

    def test_es256_header_with_ed25519_key(self) -> None:
        ed_key = generate_signing_key("Ed25519")
        token = _forge({"alg": "ES256", "kid": "k"}, ENVELOPE, ed_key, detached=True)
        with pytest.raises(SignatureInvalid, match="does not fit"):
            verify_detached(token, ENVELOPE, key=ed_key.public_key())

    def test_ed25519_header_with_p256_key(self) -> None:
        ec_key = generate_signing_key("ES256")
        token = _forge({"alg": "Ed25519", "kid": "k"}, ENVELOPE, ec_key, detached=True)
        with pytest.raises(SignatureInvalid, match="does not fit"):
            verify_detached(token, ENVELOPE, key=ec_key.public_key())

    def test_es256_header_with_p384_key(self) -> None:
        p384 = ec.generate_private_key(ec.SECP384R1())
        header_segment = _b64(b'{"alg":"ES256","kid":"k"}')
        with pytest.raises(SignatureInvalid):
            verify_detached(f"{header_segment}..{_b64(bytes(64))}", b"", key=p384.public_key())

    @pytest.mark.parametrize("alg", ["none", "HS256", "RS256", "ES384", "EdDSA448", "Ed448", ""])
    def test_other_algorithms_are_refused(self, alg: str) -> None:
        key = generate_signing_key("Ed25519")
        token = f"{_b64(json.dumps({'alg': alg, 'kid': 'k'}).encode())}.."
        with pytest.raises(UnsupportedAlgorithm):
            verify_detached(token, ENVELOPE, key=key.public_key())
        with pytest.raises(UnsupportedAlgorithm):
            read_header(token)

    def test_crit_is_refused_even_when_signed(self) -> None:
        key = generate_signing_key("Ed25519")
        header = {"alg": "Ed25519", "kid": "k", "crit": ["exp"], "exp": 1}
        token = _forge(header, ENVELOPE, key, detached=True)
        with pytest.raises(UnsupportedAlgorithm):
            verify_detached(token, ENVELOPE, key=key.public_key())

    @pytest.mark.parametrize("b64", [False, 0, "false"])
    def test_unencoded_payload_is_refused(self, b64: object) -> None:
        key = generate_signing_key("Ed25519")
        token = _forge({"alg": "Ed25519", "kid": "k", "b64": b64}, ENVELOPE, key, detached=True)
        with pytest.raises(UnsupportedAlgorithm):
            verify_detached(token, ENVELOPE, key=key.public_key())

    def test_rfc7515_appendix_a3_es256_vector(self) -> None:
        public = load_public_jwk(
            {
                "kty": "EC",
                "crv": "P-256",
                "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
            }
        )
        signing_input = (
            b"eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9l"
            b"eGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
        )
        signature = base64.urlsafe_b64decode(
            "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q=="
        )
        _check_signature(alg="ES256", key=public, signing_input=signing_input, signature=signature)
        with pytest.raises(SignatureInvalid):
            _check_signature(
                alg="ES256", key=public, signing_input=signing_input + b"x", signature=signature
            )

    def test_rfc8037_appendix_a4_a5_vector(self) -> None:
        public = load_private_jwk(RFC8037_PRIVATE_JWK).public_key()
        header_segment, payload_segment, signature_segment = RFC8037_A4_TOKEN.split(".")
        _check_signature(
            alg="EdDSA",
            key=public,
            signing_input=f"{header_segment}.{payload_segment}".encode(),
            signature=base64.urlsafe_b64decode(signature_segment + "=="),
        )

    def test_rfc8037_appendix_a4_signature_is_reproduced(self) -> None:
        # Ed25519 is deterministic: the same key and input give the vector's exact bytes.
        header_segment, payload_segment, signature_segment = RFC8037_A4_TOKEN.split(".")
        key = load_private_jwk(RFC8037_PRIVATE_JWK)
        assert isinstance(key, Ed25519PrivateKey)
        signature = _signature(key, f"{header_segment}.{payload_segment}".encode())
        assert _b64(signature) == signature_segment

    @pytest.mark.parametrize("encoded", SMALL_ORDER_ENCODINGS, ids=lambda e: e.hex()[:8])
    def test_small_order_key_verifies_no_forgery(self, encoded: bytes) -> None:
        # Registration refuses such keys; verification refuses them too, on its own.
        weak = Ed25519PublicKey.from_public_bytes(encoded)
        for n in range(16):
            with pytest.raises(SignatureInvalid):
                _check_signature(
                    alg="Ed25519",
                    key=weak,
                    signing_input=b"record %d" % n,
                    signature=TRIVIAL_FORGERY,
                )


def _header_token(header: bytes) -> str:
    return f"{_b64(header)}..{_b64(bytes(64))}"


class TestMalformedTokens:
    @pytest.mark.parametrize(
        "token",
        [
            "",
            ".",
            "..",
            "abc",
            "a.b",
            "a.b.c.d",
            "." * 100_000,
            "!!!..AAAA",
            "eyJhbGciOiJFZDI1NTE5Iiwia2lkIjoiayJ9=..AAAA",
            " eyJhbGciOiJFZDI1NTE5Iiwia2lkIjoiayJ9..AAAA",
            "eyJhbGciOiJFZDI1NTE5Iiwia2lkIjoiayJ9\n..AAAA",
            "ｅｙＪ..AAAA",
            _header_token(b"[]"),
            _header_token(b'"alg"'),
            _header_token(b"null"),
            _header_token(b"{"),
            _header_token(b"\xff\xfe{}"),
            _header_token(b'\xef\xbb\xbf{"alg":"Ed25519","kid":"k"}'),
            _header_token(b'{"kid":"k"}'),
            _header_token(b'{"alg":5,"kid":"k"}'),
            _header_token(b'{"alg":"Ed25519"}'),
            _header_token(b'{"alg":"Ed25519","kid":""}'),
            _header_token(b'{"alg":"Ed25519","kid":["k"]}'),
            _header_token(b'{"alg":"Ed25519","kid":"k","typ":7}'),
            _header_token(b'{"alg":"Ed25519","kid":"k","kid":"other"}'),
            _header_token(b'{"alg":"Ed25519","alg":"none","kid":"k"}'),
            _header_token(b'{"alg":"Ed25519","kid":"k","x":{"a":1,"a":2}}'),
            _header_token(b'{"alg":"Ed25519","kid":"k","n":NaN}'),
            _header_token(b'{"alg":"Ed25519","kid":"k","n":Infinity}'),
            _header_token(b'{"alg":"Ed25519","kid":"k","deep":' + b"[" * 2000 + b"]" * 2000 + b"}"),
            _header_token(b'{"alg":"Ed25519","kid":"k","pad":"' + b"x" * 4096 + b'"}'),
        ],
        ids=lambda token: repr(token[:40]),
    )
    def test_is_malformed(self, token: str) -> None:
        key = generate_signing_key("Ed25519").public_key()
        with pytest.raises(MalformedSignature) as caught:
            verify_detached(token, ENVELOPE, key=key)
        assert caught.value.code == "signature_malformed"
        with pytest.raises(Error):
            read_header(token)

    def test_signature_must_be_base64url(self) -> None:
        key = generate_signing_key("Ed25519")
        header_segment = sign_detached(ENVELOPE, key=key, kid="k", typ=RECORD_TYPE).split(".")[0]
        with pytest.raises(MalformedSignature):
            verify_detached(f"{header_segment}..%%%", ENVELOPE, key=key.public_key())

    def test_non_canonical_base64_signature_is_malformed(self) -> None:
        key = generate_signing_key("Ed25519")
        token = sign_detached(ENVELOPE, key=key, kid="k", typ=RECORD_TYPE)
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        # 64 octets leave 2 unused low bits in the last character (RFC 4648 §3.5)
        last = alphabet[alphabet.index(token[-1]) | 1]
        with pytest.raises(MalformedSignature):
            verify_detached(token[:-1] + last, ENVELOPE, key=key.public_key())

    def test_non_string_token(self) -> None:
        key = generate_signing_key("Ed25519").public_key()
        with pytest.raises(MalformedSignature):
            verify_detached(b"a..b", ENVELOPE, key=key)  # type: ignore[arg-type]

    def test_header_just_under_the_limit_is_accepted(self) -> None:
        key = generate_signing_key("Ed25519")
        header = {"alg": "Ed25519", "kid": "k", "pad": ""}
        header["pad"] = "x" * (4096 - len(json.dumps(header)))
        token = _forge(header, ENVELOPE, key, detached=True)
        assert verify_detached(token, ENVELOPE, key=key.public_key()).raw["pad"] == header["pad"]


class TestCompactSignature:
    def test_round_trip(self, key: PrivateSigningKey) -> None:
        token = sign_compact(b'{"receipt":1}', key=key, kid="exchange-1", typ="receipt+jws")
        header, payload = verify_compact(token, key=key.public_key(), typ="receipt+jws")
        assert payload == b'{"receipt":1}'
        assert header.kid == "exchange-1"

    def test_empty_payload(self, key: PrivateSigningKey) -> None:
        token = sign_compact(b"", key=key, kid="k", typ="t")
        assert verify_compact(token, key=key.public_key())[1] == b""

    def test_tampered_payload(self, key: PrivateSigningKey) -> None:
        token = sign_compact(b'{"receipt":1}', key=key, kid="k", typ="t")
        header, _, signature = token.split(".")
        forged_payload = _b64(b'{"receipt":2}')
        with pytest.raises(SignatureInvalid):
            verify_compact(f"{header}.{forged_payload}.{signature}", key=key.public_key())

    def test_payload_must_be_base64url(self, key: PrivateSigningKey) -> None:
        header, _, signature = sign_compact(b"x", key=key, kid="k", typ="t").split(".")
        with pytest.raises(MalformedSignature):
            verify_compact(f"{header}.e30=.{signature}", key=key.public_key())

    def test_detached_signature_does_not_verify_as_compact(self, key: PrivateSigningKey) -> None:
        token = sign_detached(ENVELOPE, key=key, kid="k", typ=RECORD_TYPE)
        with pytest.raises(SignatureInvalid):
            verify_compact(token, key=key.public_key())


class TestReadHeader:
    def test_reads_without_verifying(self) -> None:
        key = generate_signing_key("ES256")
        token = sign_detached(ENVELOPE, key=key, kid="agency-key", typ=RECORD_TYPE)
        header = read_header(token)
        assert (header.alg, header.kid, header.typ) == ("ES256", "agency-key", RECORD_TYPE)

    def test_raw_header_is_read_only(self) -> None:
        key = generate_signing_key("Ed25519")
        header = read_header(sign_detached(ENVELOPE, key=key, kid="k", typ=RECORD_TYPE))
        with pytest.raises(TypeError):
            header.raw["kid"] = "other"  # type: ignore[index]


class TestSigningArguments:
    def test_kid_and_typ_are_required(self) -> None:
        key = generate_signing_key("Ed25519")
        with pytest.raises(ValueError):
            sign_detached(ENVELOPE, key=key, kid="", typ=RECORD_TYPE)
        with pytest.raises(ValueError):
            sign_compact(ENVELOPE, key=key, kid="k", typ="")

    def test_public_key_cannot_sign(self) -> None:
        key = generate_signing_key("Ed25519")
        with pytest.raises(TypeError):
            sign_detached(ENVELOPE, key=key.public_key(), kid="k", typ="t")  # type: ignore[arg-type]

    def test_ed25519_signature_is_deterministic(self) -> None:
        key = load_private_jwk(RFC8037_PRIVATE_JWK)
        first = sign_detached(ENVELOPE, key=key, kid="k", typ=RECORD_TYPE)
        assert first == sign_detached(ENVELOPE, key=key, kid="k", typ=RECORD_TYPE)
