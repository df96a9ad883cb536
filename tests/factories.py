"""Builders for agencies, systems with real client bundles, signing keys and envelopes."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyotp
from flask import Flask

from exchange.agencies.provisioning import provision_agency_system
from exchange.auth.actor import operator_actor
from exchange.auth.service import begin_enrolment, create_user
from exchange.client.sdk import ExchangeClient
from exchange.clock import rfc3339, utcnow
from exchange.demo.records import make_envelope
from exchange.extensions import db
from exchange.pki.models import Certificate
from keys.ca import ClientBundle
from keys.jcs import canonicalize
from keys.jwk import PrivateSigningKey, SigningAlgorithm, public_jwk, thumbprint
from keys.jws import sign_detached
from schemas import RECORD_SIGNATURE_TYPE

OPERATOR = operator_actor("test")


@dataclass
class AgencySystem:
    agency: str
    kind: str
    system: str
    bundle_dir: Path
    bundle: ClientBundle
    key: PrivateSigningKey
    world: World

    @property
    def kid(self) -> str:
        return thumbprint(public_jwk(self.key))

    @property
    def fingerprint(self) -> str:
        return self.bundle.certificate.fingerprint

    def client(self) -> ExchangeClient:
        return ExchangeClient.from_bundle(self.bundle_dir, base_url=self.world.served_at())

    def envelope(self, record_type: str = "broker", **overrides: Any) -> dict[str, Any]:
        publisher = overrides.pop("publisher", self.agency)
        envelope = make_envelope(record_type, publisher=publisher, **overrides)
        if "handling" not in overrides:
            # Tests narrow the audience explicitly where they mean to.
            envelope["handling"] = dict(envelope["handling"], audience=None)
        return envelope

    def sign(self, envelope: dict[str, Any], key: PrivateSigningKey | None = None) -> str:
        signer = key or self.key
        return sign_detached(
            canonicalize(envelope),
            key=signer,
            kid=thumbprint(public_jwk(signer)),
            typ=RECORD_SIGNATURE_TYPE,
        )

    def submission(self, envelope: dict[str, Any]) -> dict[str, Any]:
        return {"record": envelope, "signature": self.sign(envelope)}

    def environ(self) -> dict[str, str]:
        """What the TLS layer puts in the WSGI environ, for Flask's test client."""
        return {"exchange.client_cert_sha256": self.fingerprint, "REMOTE_ADDR": "127.0.0.1"}


@dataclass(frozen=True)
class Person:
    """A web UI user with a known password and an enrolled TOTP secret."""

    username: str
    password: str
    totp_secret: str
    agency: str
    roles: tuple[str, ...]

    def code(self, offset_steps: int = 0) -> str:
        """The TOTP code of now (or of a neighbouring 30-second step)."""
        totp = pyotp.TOTP(self.totp_secret)
        return totp.at(time.time() + 30 * offset_steps)


@dataclass
class World:
    """Agencies and people on ``app``; ``api_url`` is the server that serves it, if any."""

    app: Flask
    root: Path
    api_url: str | None = None
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def served_at(self) -> str:
        """The API address, for tests that talk to a real server."""
        if self.api_url is None:
            raise LookupError(
                "this world has no server: use the `world` fixture (which starts the "
                "shared server), or give World the api_url of a server you started"
            )
        return self.api_url

    def agency(
        self,
        kind: str,
        *,
        parent: str | None = None,
        algorithm: SigningAlgorithm = "Ed25519",
        valid_days: int = 30,
        now: datetime | None = None,
        roles: tuple[str, ...] = (),
    ) -> AgencySystem:
        """A fresh agency of ``kind`` with one system, a client bundle and a signing key."""
        agency_id = f"{kind[:5]}-{next(self._counter)}"
        with self.app.app_context():
            provisioned = provision_agency_system(
                actor=OPERATOR,
                agency_id=agency_id,
                kind=kind,
                name_ja=f"{kind}庁",
                name_en=f"{kind} agency",
                parent_id=parent,
                roles=roles,
                algorithm=algorithm,
                valid_days=valid_days,
                now=now,
                bundle_dir=self.root / agency_id,
                # A world without a server writes the port-0 address no client can reach.
                api_url=self.api_url or "https://127.0.0.1:0",
            )
            db.session.commit()
        return AgencySystem(
            agency_id,
            kind,
            "gateway",
            provisioned.bundle_dir,
            provisioned.bundle,
            provisioned.signing_key,
            self,
        )

    def person(
        self, agency: str, *roles: str, enrolled: bool = True, name: str | None = None
    ) -> Person:
        """A user of ``agency``; ``enrolled`` means their second factor is already set up."""
        username = name or f"{roles[0] if roles else 'user'}{next(self._counter)}"
        password = f"correct horse {username} battery"
        secret = ""
        with self.app.app_context():
            user = create_user(
                actor=OPERATOR,
                username=username,
                display_name=f"{username} 太郎",
                agency_id=agency,
                roles=roles,
                password=password,
            )
            if enrolled:
                secret = begin_enrolment(user).secret
                # The step before now: the first sign-in may use the current code.
                user.totp_enrolled_at = utcnow()
                user.totp_last_step = pyotp.TOTP(secret).timecode(utcnow()) - 2
            db.session.commit()
        return Person(username, password, secret, agency, roles)

    def certificate(self, fingerprint: str) -> Certificate | None:
        with self.app.app_context():
            return db.session.get(Certificate, fingerprint)


def iso(moment: datetime) -> str:
    return rfc3339(moment.replace(microsecond=0))
