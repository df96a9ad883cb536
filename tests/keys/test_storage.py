import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from keys import (
    DecryptionFailed,
    KeyFormatInvalid,
    decrypt_private_key,
    encrypt_private_key,
    generate_passphrase,
    generate_signing_key,
    private_jwk,
)


class TestGeneratePassphrase:
    def test_is_32_random_octets_urlsafe_encoded(self) -> None:
        passphrase = generate_passphrase()
        assert len(base64.urlsafe_b64decode(passphrase)) == 32
        assert passphrase != generate_passphrase()


class TestEncryptedPrivateKey:
    @pytest.mark.parametrize("alg", ["Ed25519", "ES256"])
    def test_round_trip(self, alg: str) -> None:
        key = generate_signing_key(alg)  # type: ignore[arg-type]
        passphrase = generate_passphrase()
        pem = encrypt_private_key(key, passphrase=passphrase)
        assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        assert private_jwk(decrypt_private_key(pem, passphrase=passphrase)) == private_jwk(key)

    def test_wrong_passphrase(self) -> None:
        passphrase = generate_passphrase()
        pem = encrypt_private_key(generate_signing_key("Ed25519"), passphrase=passphrase)
        with pytest.raises(DecryptionFailed) as caught:
            decrypt_private_key(pem, passphrase=b"not the passphrase")
        assert caught.value.code == "key_decryption_failed"
        assert passphrase.decode() not in str(caught.value)
        assert caught.value.__cause__ is None
        assert caught.value.__suppress_context__

    @pytest.mark.parametrize(
        "pem",
        [b"", b"garbage", b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED"],
    )
    def test_garbage(self, pem: bytes) -> None:
        with pytest.raises(DecryptionFailed):
            decrypt_private_key(pem, passphrase=b"x")

    def test_unencrypted_pem_is_refused(self) -> None:
        pem = generate_signing_key("ES256").private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        with pytest.raises(DecryptionFailed):
            decrypt_private_key(pem, passphrase=b"x")

    def test_other_key_types_are_refused(self) -> None:
        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = rsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"x"),
        )
        with pytest.raises(DecryptionFailed):
            decrypt_private_key(pem, passphrase=b"x")
        with pytest.raises(KeyFormatInvalid):
            encrypt_private_key(rsa_key, passphrase=b"x")  # type: ignore[arg-type]

    def test_empty_passphrase_is_refused(self) -> None:
        with pytest.raises(ValueError):
            encrypt_private_key(generate_signing_key("Ed25519"), passphrase=b"")
