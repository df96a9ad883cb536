import base64

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PrivateKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from keys import (
    KeyFormatInvalid,
    UnsupportedAlgorithm,
    algorithm_for,
    generate_signing_key,
    load_private_jwk,
    load_public_jwk,
    private_jwk,
    public_jwk,
    thumbprint,
)
from tests.keys.vectors import SMALL_ORDER_ENCODINGS, TRIVIAL_FORGERY, P

# RFC 7638 §3.1
RFC7638_RSA_JWK = {
    "kty": "RSA",
    "n": (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6t"
        "Soc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-"
        "65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qN"
        "Lyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awa"
        "pJzKnqDKgw"
    ),
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}
# RFC 8037 appendix A.1 and A.2
RFC8037_PRIVATE_JWK = {
    "kty": "OKP",
    "crv": "Ed25519",
    "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
    "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
}
RFC8037_PUBLIC_JWK = {"kty": "OKP", "crv": "Ed25519", "x": RFC8037_PRIVATE_JWK["x"]}
# RFC 7515 appendix A.3
RFC7515_EC_JWK = {
    "kty": "EC",
    "crv": "P-256",
    "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
    "d": "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI",
}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TestThumbprint:
    def test_rfc7638_example(self) -> None:
        assert thumbprint(RFC7638_RSA_JWK) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"

    def test_rfc8037_appendix_a3(self) -> None:
        assert thumbprint(RFC8037_PUBLIC_JWK) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"

    def test_private_and_optional_members_do_not_change_it(self) -> None:
        decorated = {**RFC8037_PRIVATE_JWK, "kid": "k1", "use": "sig", "alg": "Ed25519"}
        assert thumbprint(decorated) == thumbprint(RFC8037_PUBLIC_JWK)

    @pytest.mark.parametrize(
        "jwk",
        [
            {"kty": "EC", "crv": "P-256", "x": "AA"},
            {"kty": "OKP", "crv": "Ed25519", "x": 5},
            {"kty": "unknown", "x": "AA"},
            {"crv": "Ed25519", "x": "AA"},
        ],
    )
    def test_missing_required_members_are_refused(self, jwk: dict[str, object]) -> None:
        with pytest.raises(KeyFormatInvalid):
            thumbprint(jwk)


class TestGenerateSigningKey:
    def test_ed25519(self) -> None:
        assert isinstance(generate_signing_key("Ed25519"), Ed25519PrivateKey)

    def test_es256_is_p256(self) -> None:
        key = generate_signing_key("ES256")
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        assert isinstance(key.curve, ec.SECP256R1)

    def test_other_algorithms_are_refused(self) -> None:
        with pytest.raises(UnsupportedAlgorithm):
            generate_signing_key("RS256")  # type: ignore[arg-type]


class TestAlgorithmFor:
    def test_names(self) -> None:
        assert algorithm_for(generate_signing_key("Ed25519")) == "Ed25519"
        assert algorithm_for(generate_signing_key("ES256").public_key()) == "ES256"

    @pytest.mark.parametrize(
        "key",
        [
            ec.generate_private_key(ec.SECP384R1()),
            rsa.generate_private_key(public_exponent=65537, key_size=2048),
            Ed448PrivateKey.generate(),
        ],
        ids=["P-384", "RSA", "Ed448"],
    )
    def test_other_keys_are_refused(self, key: object) -> None:
        with pytest.raises(KeyFormatInvalid):
            algorithm_for(key)  # type: ignore[arg-type]


class TestPublicJwk:
    def test_ed25519_members(self) -> None:
        key = load_private_jwk(RFC8037_PRIVATE_JWK)
        assert public_jwk(key) == RFC8037_PUBLIC_JWK
        assert public_jwk(key.public_key()) == RFC8037_PUBLIC_JWK

    def test_ec_members(self) -> None:
        key = load_private_jwk(RFC7515_EC_JWK)
        expected = {k: RFC7515_EC_JWK[k] for k in ("kty", "crv", "x", "y")}
        assert public_jwk(key) == expected
        assert private_jwk(key) == RFC7515_EC_JWK

    def test_ec_coordinates_keep_leading_zeros(self) -> None:
        # RFC 7518 §6.2.1.2: x and y are always the full 32 octets
        for _ in range(300):
            jwk = public_jwk(generate_signing_key("ES256"))
            assert len(jwk["x"]) == len(jwk["y"]) == 43

    @pytest.mark.parametrize("alg", ["Ed25519", "ES256"])
    def test_round_trip(self, alg: str) -> None:
        key = generate_signing_key(alg)  # type: ignore[arg-type]
        assert public_jwk(load_public_jwk(public_jwk(key))) == public_jwk(key)
        assert private_jwk(load_private_jwk(private_jwk(key))) == private_jwk(key)
        assert "d" not in public_jwk(key)


class TestLoadPublicJwk:
    def test_accepts_matching_optional_members(self) -> None:
        jwk = {**RFC8037_PUBLIC_JWK, "use": "sig", "alg": "EdDSA", "key_ops": ["verify"]}
        assert isinstance(load_public_jwk(jwk), Ed25519PublicKey)

    @pytest.mark.parametrize(
        "changes",
        [
            {"d": RFC8037_PRIVATE_JWK["d"]},
            {"kty": "EC"},
            {"kty": "RSA"},
            {"kty": None},
            {"crv": "X25519"},
            {"crv": "Ed448"},
            {"x": RFC8037_PUBLIC_JWK["x"] + "="},
            {"x": RFC8037_PUBLIC_JWK["x"][:-1]},
            {"x": RFC8037_PUBLIC_JWK["x"].replace("_", "/")},
            {"x": _b64(bytes(31))},
            {"x": 12},
            {"use": "enc"},
            {"alg": "ES256"},
            {"key_ops": ["sign"]},
            {"key_ops": "verify"},
            {"kid": 7},
        ],
        ids=repr,
    )
    def test_refuses_bad_okp_jwk(self, changes: dict[str, object]) -> None:
        with pytest.raises(KeyFormatInvalid) as caught:
            load_public_jwk({**RFC8037_PUBLIC_JWK, **changes})
        assert caught.value.code == "key_invalid"

    def test_refuses_rsa_jwk(self) -> None:
        with pytest.raises(KeyFormatInvalid):
            load_public_jwk({k: v for k, v in RFC7638_RSA_JWK.items() if k != "alg"})

    def test_refuses_non_mapping(self) -> None:
        with pytest.raises(KeyFormatInvalid):
            load_public_jwk(["kty", "OKP"])  # type: ignore[arg-type]

    def test_refuses_ec_point_off_the_curve(self) -> None:
        public = {k: RFC7515_EC_JWK[k] for k in ("kty", "crv", "x", "y")}
        with pytest.raises(KeyFormatInvalid, match="not a point"):
            load_public_jwk({**public, "y": public["x"]})

    @pytest.mark.parametrize("crv", ["P-384", "P-521", "secp256k1"])
    def test_refuses_other_curves(self, crv: str) -> None:
        public = {k: RFC7515_EC_JWK[k] for k in ("kty", "crv", "x", "y")}
        with pytest.raises(KeyFormatInvalid):
            load_public_jwk({**public, "crv": crv})

    @pytest.mark.parametrize("encoded", SMALL_ORDER_ENCODINGS, ids=lambda e: e.hex()[:8])
    def test_refuses_small_order_ed25519_keys(self, encoded: bytes) -> None:
        # Such a key lets anyone sign: OpenSSL accepts R = identity, S = 0 under it for a
        # share of all messages. Show the forgery, then that the key is refused.
        weak = Ed25519PublicKey.from_public_bytes(encoded)
        forgeries = 0
        for n in range(64):
            try:
                weak.verify(TRIVIAL_FORGERY, b"record %d" % n)
                forgeries += 1
            except InvalidSignature:
                pass
        assert forgeries > 0
        with pytest.raises(KeyFormatInvalid):
            load_public_jwk({"kty": "OKP", "crv": "Ed25519", "x": _b64(encoded)})

    def test_refuses_non_canonical_ed25519_y(self) -> None:
        encoded = (P + 2).to_bytes(32, "little")
        with pytest.raises(KeyFormatInvalid):
            load_public_jwk({"kty": "OKP", "crv": "Ed25519", "x": _b64(encoded)})


class TestLoadPrivateJwk:
    def test_rfc8037_key_signs_the_appendix_a4_signature(self) -> None:
        key = load_private_jwk(RFC8037_PRIVATE_JWK)
        assert isinstance(key, Ed25519PrivateKey)
        signing_input = b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
        # RFC 8037 appendix A.4; Ed25519 is deterministic (RFC 8032 §5.1.6)
        assert _b64(key.sign(signing_input)) == (
            "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
        )

    @pytest.mark.parametrize("alg", ["Ed25519", "ES256"])
    def test_refuses_d_of_another_key(self, alg: str) -> None:
        mine = private_jwk(generate_signing_key(alg))  # type: ignore[arg-type]
        theirs = private_jwk(generate_signing_key(alg))  # type: ignore[arg-type]
        with pytest.raises(KeyFormatInvalid, match="does not belong"):
            load_private_jwk({**mine, "d": theirs["d"]})

    def test_refuses_public_jwk(self) -> None:
        with pytest.raises(KeyFormatInvalid):
            load_private_jwk(RFC8037_PUBLIC_JWK)

    def test_refuses_zero_ec_scalar(self) -> None:
        with pytest.raises(KeyFormatInvalid):
            load_private_jwk({**RFC7515_EC_JWK, "d": _b64(bytes(32))})

    def test_refuses_key_ops_without_sign(self) -> None:
        with pytest.raises(KeyFormatInvalid):
            load_private_jwk({**RFC8037_PRIVATE_JWK, "key_ops": ["verify"]})
