"""The agency side: sign, send over mutual TLS, and verify what comes back.

A client verifies every record it reads with nothing but public keys: the publisher's
signing key (from the agency directory, with its status history) and the exchange's
receipt keys (``/.well-known/jwks.json``, fetched again once for a key it has not seen).
A client from a bundle follows a CA rotation by itself (``trust.py``). One
``requests.Session`` keeps connections alive; a new mTLS handshake costs several times a
request on an open connection.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from exchange.client.trust import TRUST_HEADER, CaFile
from exchange.textfiles import read_json
from keys import errors as key_errors
from keys.jcs import canonicalize
from keys.jwk import (
    PrivateSigningKey,
    PublicSigningKey,
    load_private_jwk,
    load_public_jwk,
    public_jwk,
    thumbprint,
)
from keys.jws import read_header, sign_detached, verify_compact, verify_detached
from keys.pop import make_proof
from schemas import RECEIPT_SIGNATURE_TYPE, RECORD_SIGNATURE_TYPE, residence_card_token


class ExchangeError(Exception):
    """The exchange answered with an RFC 9457 problem."""

    def __init__(self, status: int, problem: Mapping[str, Any]) -> None:
        self.status = status
        self.problem = dict(problem)
        self.code = str(problem.get("code", "unknown"))
        super().__init__(
            f"{status} {self.code}: {problem.get('detail') or problem.get('title', '')}"
        )


class VerificationError(Exception):
    """A record, signature or receipt did not verify: do not trust it."""


class BundleError(ValueError):
    """A directory that is not a usable client bundle; the message says why."""


@dataclass(frozen=True)
class Receipt:
    record_id: str
    version: int
    sha256: str
    received_at: str
    audit_entry: str
    token: str
    created: bool
    # Base64 RFC 9162 leaf hash of the publish's audit entry (DESIGN §3).


@dataclass(frozen=True)
class VerifiedRecord:
    record: dict[str, Any]
    signature: str
    kid: str
    receipt: Receipt
    key_status: str
    key_compromised: bool


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class ExchangeClient:
    """One agency system's connection to the exchange."""

    def __init__(
        self,
        *,
        base_url: str,
        certificate: str | Path,
        private_key: str | Path,
        ca: str | Path,
        signing_key: PrivateSigningKey | None = None,
        matching_key: bytes | None = None,
        log_key: str | None = None,
        timeout: float = 30.0,
        follow_trust: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.cert = (str(certificate), str(private_key))
        # Pinned per request: a session-wide setting would lose to REQUESTS_CA_BUNDLE.
        self.ca = str(ca)
        self.timeout = timeout
        self.signing_key = signing_key
        self.kid = thumbprint(public_jwk(signing_key)) if signing_key is not None else None
        self.matching_key = matching_key
        # The audit log's C2SP verifier key, pinned by the bundle: checkpoints are
        # trusted under this key alone, never under one the exchange hands out.
        self.log_key = log_key
        self._agency_keys: dict[str, dict[str, dict[str, Any]]] = {}
        self._exchange_keys: dict[str, PublicSigningKey] | None = None
        self._exchange_key_documents: dict[str, dict[str, Any]] = {}
        # Whether ``ca`` is this client's own copy, to be replaced when the exchange's CA
        # certificates change (a bundle's ca.pem).
        self.trust = CaFile(Path(ca)) if follow_trust else None

    @classmethod
    def from_bundle(cls, directory: str | Path, *, base_url: str | None = None) -> ExchangeClient:
        """A client from a bundle directory written by ``exchange system issue``."""
        root = Path(directory)
        manifest = _bundle_manifest(root)
        signing_key = None
        if manifest.get("signing_key"):
            signing_key = load_private_jwk(read_json(root / manifest["signing_key"]))
        matching_key = None
        if manifest.get("matching_key") and (root / manifest["matching_key"]).exists():
            matching_key = bytes.fromhex((root / manifest["matching_key"]).read_text().strip())
        return cls(
            base_url=base_url or manifest["api_url"],
            certificate=root / manifest["certificate"],
            private_key=root / manifest["private_key"],
            ca=root / manifest["ca"],
            signing_key=signing_key,
            matching_key=matching_key,
            log_key=manifest.get("log_key") or None,
            follow_trust=True,
        )

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> ExchangeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Transport ----------------------------------------------------------------------

    def request(self, method: str, path: str, *, purpose: str | None = None, **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", {}))
        if purpose is not None:
            headers["Exchange-Purpose"] = purpose
        response = self.session.request(
            method,
            self.base_url + path,
            headers=headers,
            timeout=self.timeout,
            verify=self.ca,
            **kwargs,
        )
        if self.trust is not None:
            self.trust.follow(response.headers.get(TRUST_HEADER), fetch=self._fetch_trust)
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"title": response.reason}
            raise ExchangeError(response.status_code, problem)
        if response.headers.get("Content-Type", "").startswith("application/json"):
            return response.json()
        return response.text

    def _fetch_trust(self) -> str:
        response = self.session.get(
            self.base_url + "/pki/ca.pem", timeout=self.timeout, verify=self.ca
        )
        response.raise_for_status()
        return response.text

    # Publishing ---------------------------------------------------------------------

    def sign(self, envelope: Mapping[str, Any]) -> str:
        if self.signing_key is None or self.kid is None:
            raise ValueError("this client has no signing key")
        return sign_detached(
            canonicalize(envelope), key=self.signing_key, kid=self.kid, typ=RECORD_SIGNATURE_TYPE
        )

    def publish(self, envelope: Mapping[str, Any]) -> Receipt:
        body = {"record": envelope, "signature": self.sign(envelope)}
        result = self.request("POST", "/api/v1/records", json=body)
        return self._check_receipt(envelope, result)

    def publish_batch(self, envelopes: Sequence[Mapping[str, Any]]) -> list[Receipt]:
        body = {"records": [{"record": e, "signature": self.sign(e)} for e in envelopes]}
        results = self.request("POST", "/api/v1/records", json=body)["results"]
        return [self._check_receipt(e, r) for e, r in zip(envelopes, results, strict=True)]

    def _check_receipt(self, envelope: Mapping[str, Any], result: Mapping[str, Any]) -> Receipt:
        return self.verify_receipt(
            str(result["receipt"]),
            record_id=str(envelope["id"]),
            version=int(envelope["version"]),
            canonical=canonicalize(envelope),
            created=bool(result.get("created", True)),
        )

    def register_key(self, key: PrivateSigningKey, *, agency: str) -> dict[str, Any]:
        """Register a new signing key for this system's agency (rotation)."""
        body = {"jwk": public_jwk(key), "proof": make_proof(key=key, agency=agency)}
        result: dict[str, Any] = self.request("POST", "/api/v1/keys", json=body)
        return result

    def card_token(self, number: str) -> str:
        """The matching token of a residence-card number: the raw number never leaves here."""
        if self.matching_key is None:
            raise ValueError("this client has no matching key")
        return residence_card_token(number, key=self.matching_key)

    # Reading ------------------------------------------------------------------------

    def get(self, record_id: str, *, purpose: str, version: int | None = None) -> VerifiedRecord:
        params = {"version": version} if version is not None else None
        return self.verify(
            self.request("GET", f"/api/v1/records/{record_id}", purpose=purpose, params=params)
        )

    def versions(self, record_id: str, *, purpose: str) -> list[VerifiedRecord]:
        result = self.request("GET", f"/api/v1/records/{record_id}/versions", purpose=purpose)
        return [self.verify(item) for item in result["versions"]]

    def search_page(
        self, *, purpose: str, **filters: Any
    ) -> tuple[list[VerifiedRecord], str | None]:
        params = {
            ("from" if k == "issued_from" else "to" if k == "issued_to" else k): v
            for k, v in filters.items()
            if v is not None
        }
        result = self.request("GET", "/api/v1/records", purpose=purpose, params=params)
        return [self.verify(item) for item in result["items"]], result.get("next_cursor")

    def search(
        self, *, purpose: str, max_pages: int = 100, **filters: Any
    ) -> Iterator[VerifiedRecord]:
        cursor = None
        for _ in range(max_pages):
            items, cursor = self.search_page(purpose=purpose, cursor=cursor, **filters)
            yield from items
            if cursor is None:
                return

    # Verification -------------------------------------------------------------------

    def exchange_keys(self, *, refresh: bool = False) -> dict[str, PublicSigningKey]:
        """The exchange's receipt and delivery keys by kid: current, next and retired."""
        if self._exchange_keys is None or refresh:
            jwks = self.request("GET", "/.well-known/jwks.json")
            self._exchange_key_documents = {str(k["kid"]): dict(k) for k in jwks["keys"]}
            self._exchange_keys = {
                kid: load_public_jwk({n: v for n, v in k.items() if n in ("kty", "crv", "x", "y")})
                for kid, k in self._exchange_key_documents.items()
            }
        return self._exchange_keys

    def exchange_key(self, kid: str) -> PublicSigningKey:
        """The exchange key ``kid``, fetching the JWKS again once if it is new here.

        A rotated key is published days before it signs, so a client that refreshes now
        and then holds it in time; one that cached the set for longer fetches it here.
        """
        key = self.exchange_keys().get(kid)
        if key is None:
            key = self.exchange_keys(refresh=True).get(kid)
        if key is None:
            raise VerificationError(f"signed by unknown exchange key {kid}")
        return key

    def agency_key(self, agency: str, kid: str, *, refresh: bool = False) -> dict[str, Any]:
        keys = self._agency_keys.get(agency)
        if keys is None or refresh or kid not in keys:
            result = self.request("GET", f"/api/v1/agencies/{agency}/jwks")
            keys = {k["kid"]: k for k in result["keys"]}
            self._agency_keys[agency] = keys
        if kid not in keys:
            raise VerificationError(f"{agency} has no key {kid}")
        return keys[kid]

    def read_receipt(self, token: str, *, created: bool = True) -> Receipt:
        """A receipt whose exchange signature verifies, whatever record it is for."""
        try:
            header = read_header(token)
            key = self.exchange_key(header.kid)
            _, payload = verify_compact(token, key=key, typ=RECEIPT_SIGNATURE_TYPE)
            claims = json.loads(payload)
            retired_at = self._exchange_key_documents.get(header.kid, {}).get("retired_at")
            if retired_at and _parse_time(str(claims["received_at"])) >= _parse_time(retired_at):
                raise VerificationError("receipt dated after its exchange key was retired")
            return Receipt(
                record_id=str(claims["id"]),
                version=int(claims["version"]),
                sha256=str(claims["sha256"]),
                received_at=str(claims["received_at"]),
                audit_entry=str(claims["audit_entry"]),
                token=token,
                created=created,
            )
        except key_errors.Error as error:
            raise VerificationError(f"receipt does not verify: {error}") from None
        except (KeyError, TypeError, ValueError):
            raise VerificationError("receipt claims malformed") from None

    def verify_receipt(
        self, token: str, *, record_id: str, version: int, canonical: bytes, created: bool = True
    ) -> Receipt:
        receipt = self.read_receipt(token, created=created)
        if receipt.record_id != record_id or receipt.version != version:
            raise VerificationError("receipt is for another record version")
        if receipt.sha256 != hashlib.sha256(canonical).hexdigest():
            raise VerificationError("receipt is for other content")
        return receipt

    def verify(self, item: Mapping[str, Any]) -> VerifiedRecord:
        """Check a record's signature by its publisher's key and the exchange's receipt."""
        record = item["record"]
        signature = str(item["signature"])
        canonical = canonicalize(record)
        try:
            header = read_header(signature)
        except key_errors.Error as error:
            raise VerificationError(f"signature malformed: {error}") from None
        key_document = self.agency_key(str(record["publisher"]), header.kid)
        issued_at = _parse_time(str(record["issued_at"]))
        if issued_at < _parse_time(key_document["not_before"]):
            raise VerificationError("signed before the key's validity")
        for limit in ("not_after", "retired_at"):
            if key_document.get(limit) and issued_at >= _parse_time(key_document[limit]):
                raise VerificationError(f"signed after the key's {limit}")
        public = load_public_jwk(
            {n: v for n, v in key_document.items() if n in ("kty", "crv", "x", "y")}
        )
        try:
            verify_detached(signature, canonical, key=public, typ=RECORD_SIGNATURE_TYPE)
        except key_errors.Error as error:
            raise VerificationError(f"signature does not verify: {error}") from None
        receipt = self.verify_receipt(
            str(item["receipt"]),
            record_id=str(record["id"]),
            version=int(record["version"]),
            canonical=canonical,
        )
        compromised = False
        if key_document.get("compromised_at"):
            compromised_at = _parse_time(key_document["compromised_at"])
            compromised = (
                issued_at >= compromised_at or _parse_time(receipt.received_at) >= compromised_at
            )
        return VerifiedRecord(
            record=dict(record),
            signature=signature,
            kid=header.kid,
            receipt=receipt,
            key_status=str(key_document.get("status", "unknown")),
            key_compromised=compromised,
        )


_BUNDLE_FILES = ("api_url", "certificate", "private_key", "ca")


def _bundle_manifest(root: Path) -> dict[str, Any]:
    path = root / "exchange.json"
    if not path.is_file():
        raise BundleError(f"{root} is not a client bundle: it has no exchange.json.")
    manifest = read_json(path)
    if not isinstance(manifest, dict):
        raise BundleError(f"{path} is not a bundle manifest: it holds no JSON object.")
    missing = [name for name in _BUNDLE_FILES if not isinstance(manifest.get(name), str)]
    if missing:
        raise BundleError(f"{path} does not name the bundle's {', '.join(missing)}.")
    return manifest


def bundle_agency(directory: str | Path) -> str:
    """The agency a client bundle acts for, read from its manifest without a connection."""
    root = Path(directory)
    agency = _bundle_manifest(root).get("agency")
    if not isinstance(agency, str):
        raise BundleError(f"{root / 'exchange.json'} does not name the bundle's agency.")
    return agency
