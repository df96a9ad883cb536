"""The served OpenAPI document describes what is served: schemathesis, every check, over mTLS.

The document is fetched from a real server the way an agency's tooling would, and every
operation in it is called with generated valid and invalid input; any response the document
does not describe (status, content type, body, headers), any 5xx, invalid input accepted or
valid input refused fails the test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
import schemathesis.engine
from flask import Flask
from schemathesis.engine.events import FatalError, NonFatalError, ScenarioFinished

from exchange.extensions import db
from exchange.serving import ExchangeServer
from exchange.trail.integrator_process import build_integrator
from tests.factories import AgencySystem, World

# Bounded so that the whole document is covered in a minute or two on two cores.
_EXAMPLES = 6
_MAX_SECONDS = 120


@pytest.fixture(scope="module")
def caller(app: Flask, world: World, server: ExchangeServer) -> AgencySystem:
    # An auditor system may call every route, so no operation is refused wholesale.
    system = world.agency("police", roles=("auditor",))
    # A signed checkpoint, whichever tests ran before: without one every proof is a 404,
    # and what the proofs answer would depend on the order of the tests.
    with app.app_context():
        build_integrator(app).integrate(checkpoint=True)
        db.session.remove()
    return system


def _bundle_file(caller: AgencySystem, name: str) -> str:
    manifest = json.loads((caller.bundle_dir / "exchange.json").read_text())
    return str(caller.bundle_dir / manifest[name])


# What positive_data_acceptance allows by default: success, or an answer that depends on
# state or rights rather than on the input's form.
_ACCEPTED = ["2xx", "401", "403", "404", "409", "429"]


def _also_refusing(operation: str, status: str) -> dict[str, Any]:
    """Schema-valid input of ``operation`` may also be answered ``status``."""
    return {
        "include-name": operation,
        "checks": {"positive_data_acceptance": {"expected-statuses": [*_ACCEPTED, status]}},
    }


# Where schema-valid input is refused for a reason no OpenAPI document can state; each
# entry names one operation and widens one check only.
_DEVIATIONS: list[dict[str, Any]] = [
    # Bodies signed by a private key (a record's JWS, a key's proof of possession, a
    # witness's cosignature) cannot be generated from a schema: they are refused as
    # invalid signatures, which is what the check would call "valid data rejected".
    *(
        {
            "include-name": f"POST {path}",
            "checks": {"positive_data_acceptance": {"enabled": False}},
        }
        for path in (
            "/api/v1/records",
            "/api/v1/keys",
            "/api/v1/audit/cosignatures",
            "/api/v1/referrals",
            "/api/v1/referrals/{referral_id}/acknowledgement",
            "/api/v1/referrals/{referral_id}/assignment",
            "/api/v1/referrals/{referral_id}/closure",
        )
    ),
    # So are a notice and each step of it, signed by the agency; a step on a notice that does
    # exist is refused as well for the signature.
    *(
        {"include-name": name, "checks": {"positive_data_acceptance": {"enabled": False}}}
        for name in (
            "POST /api/v1/notices",
            "PUT /api/v1/notices/{notice_id}",
            *(
                f"POST /api/v1/notices/{{notice_id}}/{step}"
                for step in ("submission", "approval", "rejection", "dispatch", "answer")
            ),
        )
    ),
    # A feed cursor past the feed's current end is refused (422) by a pull and by an ack:
    # the end moves with every publication, so the document can give no fixed maximum.
    _also_refusing("GET /api/v1/subscriptions/{subscription_id}/events", "422"),
    _also_refusing("POST /api/v1/subscriptions/{subscription_id}/ack", "422"),
    # A search cursor is opaque: only one the exchange handed out reads as a position (400).
    _also_refusing("GET /api/v1/records", "400"),
    # An inclusion proof needs exactly one of index and entry (400 otherwise): query
    # parameters cannot be made mutually exclusive in OpenAPI 3.1.
    _also_refusing("GET /api/v1/audit/proof/inclusion", "400"),
    # A consistency proof between sizes beyond the latest checkpoint, or from a larger size
    # to a smaller one, is refused (400): the checkpoint grows, and OpenAPI cannot relate
    # one parameter to another.
    _also_refusing("GET /api/v1/audit/proof/consistency", "400"),
]


def _findings(events: Iterator[Any]) -> list[str]:
    found: list[str] = []
    for event in events:
        if isinstance(event, ScenarioFinished):
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    if check.failure_info is not None:
                        failure = check.failure_info.failure
                        interaction = event.recorder.interactions.get(case_id)
                        answer = interaction.response if interaction is not None else None
                        body = (answer.content or b"")[:400] if answer is not None else b""
                        found.append(
                            f"{event.recorder.label}: {check.name}: {failure.title}\n"
                            f"{failure.message}\n{check.failure_info.code_sample}\n"
                            f"{body.decode(errors='replace')}"
                        )
        elif isinstance(event, NonFatalError | FatalError):
            found.append(f"error: {event!r} {getattr(event, 'info', '')}")
    return found


def test_the_served_document_describes_the_api(world: World, caller: AgencySystem) -> None:
    session = requests.Session()
    # REQUESTS_CA_BUNDLE in the environment would replace the exchange's CA.
    session.trust_env = False
    cert = (_bundle_file(caller, "certificate"), _bundle_file(caller, "private_key"))
    ca = _bundle_file(caller, "ca")
    config = schemathesis.Config.from_dict(
        {
            "base-url": world.served_at(),
            "tls-verify": ca,
            "request-cert": cert[0],
            "request-cert-key": cert[1],
            "request-timeout": 30,
            "max-time": _MAX_SECONDS,
            "generation": {"max-examples": _EXAMPLES, "deterministic": True},
            "checks": {"enabled": True},
            "suppress-health-check": ["all"],
            "operations": _DEVIATIONS,
        }
    )
    schema = schemathesis.openapi.from_url(
        f"{world.served_at()}/api/v1/openapi.json", config=config, cert=cert, verify=ca, timeout=30
    )
    findings = _findings(iter(schemathesis.engine.from_schema(schema).execute()))
    assert not findings, "\n\n".join(findings[:40])
