"""Fixtures for the keys package: certificate authorities are generated, never pasted."""

import pytest

from keys import CertificateAuthority


@pytest.fixture(scope="session")
def ca() -> CertificateAuthority:
    return CertificateAuthority.create(common_name="Exchange Test CA", organization="exchange")


@pytest.fixture(scope="session")
def other_ca() -> CertificateAuthority:
    return CertificateAuthority.create(common_name="Someone Else's CA", organization="elsewhere")
