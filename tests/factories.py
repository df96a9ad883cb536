"""Builders for agencies, systems with real client bundles, signing keys and envelopes."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask

from exchange.agencies.service import create_agency, create_system
from exchange.auth.actor import operator_actor
from exchange.client.sdk import ExchangeClient
from exchange.clock import rfc3339, utcnow
from exchange.demo.records import make_envelope
from exchange.extensions import db
from exchange.pki.bundles import write_bundle
from exchange.pki.models import Certificate
from exchange.pki.service import issue_certificate_bundle, register_signing_key
from exchange.pki.vault import load_vault
from keys.ca import ClientBundle
from keys.jcs import canonicalize
from keys.jwk import PrivateSigningKey, generate_signing_key, private_jwk, public_jwk, thumbprint
from keys.jws import sign_detached
from keys.pop import make_proof

OPERATOR = operator_actor("test")
RECORD_TYPE = "exchange-record+jws"

KIND_OF = {
    "police": "police",
    "immigration": "immigration",
    "labour": "labour",
    "otit": "otit",
    "mext": "mext",
    "mofa": "mofa",
}


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
            canonicalize(envelope), key=signer, kid=thumbprint(public_jwk(signer)), typ=RECORD_TYPE
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
        algorithm: str = "Ed25519",
        valid_days: int = 30,
        now: datetime | None = None,
        roles: tuple[str, ...] = (),
    ) -> AgencySystem:
        """A fresh agency of ``kind`` with one system, a client bundle and a signing key."""
        agency_id = f"{kind[:5]}-{next(self._counter)}"
        with self.app.app_context():
            create_agency(
                actor=OPERATOR,
                agency_id=agency_id,
                kind=kind,
                name_ja=f"{kind}庁",
                name_en=f"{kind} agency",
                parent_id=parent,
            )
            system = create_system(actor=OPERATOR, agency_id=agency_id, name="gateway", roles=roles)
            _, bundle = issue_certificate_bundle(
                actor=OPERATOR, system=system, valid_days=valid_days, now=now
            )
            key = generate_signing_key(algorithm)  # type: ignore[arg-type]
            register_signing_key(
                actor=OPERATOR,
                agency_id=agency_id,
                jwk=public_jwk(key),
                proof=make_proof(key=key, agency=agency_id),
                not_before=utcnow() - timedelta(days=365),
            )
            matching_key = load_vault().matching_key
            db.session.commit()
        directory = self.root / agency_id
        write_bundle(
            directory,
            bundle=bundle,
            api_url=self.api_url,
            matching_key=matching_key,
            signing_jwk=private_jwk(key),
            signing_kid=thumbprint(public_jwk(key)),
        )
        return AgencySystem(agency_id, kind, "gateway", directory, bundle, key, self)

    def certificate(self, fingerprint: str) -> Certificate | None:
        with self.app.app_context():
            return db.session.get(Certificate, fingerprint)


def iso(moment: datetime) -> str:
    return rfc3339(moment.replace(microsecond=0))
