"""Builders for agencies, systems with real client bundles, signing keys and envelopes."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask

from exchange.agencies.provisioning import provision_agency_system
from exchange.auth.actor import operator_actor
from exchange.client.sdk import ExchangeClient
from exchange.clock import rfc3339
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
        return ExchangeClient.from_bundle(self.bundle_dir, base_url=self.world.api_url)

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


@dataclass
class World:
    app: Flask
    root: Path
    api_url: str = "https://127.0.0.1:0"
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

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
                api_url=self.api_url,
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

    def certificate(self, fingerprint: str) -> Certificate | None:
        with self.app.app_context():
            return db.session.get(Certificate, fingerprint)


def iso(moment: datetime) -> str:
    return rfc3339(moment.replace(microsecond=0))
