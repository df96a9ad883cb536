"""What the administrators' pages show for stored codes: translated labels, never raw keys."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

# Agency kinds and record types are named as on the records' pages, so that every page of
# the exchange calls them the same.
from exchange.records.presentation import AGENCY_KINDS as AGENCY_KIND_LABELS
from exchange.records.presentation import RECORD_TYPES as RECORD_TYPE_LABELS
from exchange.records.presentation import label_of as label
from exchange.ui.navigation import ROLE_LABELS as USER_ROLE_LABELS

__all__ = [
    "AGENCY_KIND_LABELS",
    "CERTIFICATE_STATUS_LABELS",
    "KEY_STATUS_LABELS",
    "OWN_CERTIFICATE_LABELS",
    "RECORD_TYPE_LABELS",
    "REVOCATION_REASON_LABELS",
    "SYSTEM_ROLE_LABELS",
    "USER_ROLE_LABELS",
    "admin_labels",
    "label",
]

SYSTEM_ROLE_LABELS = {"auditor": _l("Auditor system (reads the audit log)")}

REVOCATION_REASON_LABELS = {
    "unspecified": _l("Unspecified"),
    "key_compromise": _l("Private key compromised"),
    "affiliation_changed": _l("Affiliation changed"),
    "superseded": _l("Superseded by a new certificate"),
    "cessation_of_operation": _l("System no longer operated"),
}

CERTIFICATE_STATUS_LABELS = {
    "valid": _l("Valid"),
    "expiring": _l("Expires soon"),
    "expired": _l("Expired"),
    "revoked": _l("Revoked"),
    "pending": _l("Not yet valid"),
}

KEY_STATUS_LABELS = {
    "next": _l("Published, signs later"),
    "active": _l("Active"),
    "retired": _l("Retired"),
    "revoked": _l("Revoked"),
}

OWN_CERTIFICATE_LABELS = {
    "ca": _l("The exchange's CA"),
    "ca_next": _l("The incoming CA (a CA rotation is under way)"),
    "server": _l("TLS server certificate (API and web)"),
    "delivery": _l("Push delivery client certificate"),
}


def admin_labels() -> dict[str, Any]:
    """Template context of the administrators' pages."""
    return {
        "kind_labels": AGENCY_KIND_LABELS,
        "user_role_labels": USER_ROLE_LABELS,
        "system_role_labels": SYSTEM_ROLE_LABELS,
        "type_labels": RECORD_TYPE_LABELS,
        "reason_labels": REVOCATION_REASON_LABELS,
        "certificate_status_labels": CERTIFICATE_STATUS_LABELS,
        "key_status_labels": KEY_STATUS_LABELS,
        "own_certificate_labels": OWN_CERTIFICATE_LABELS,
        "label": label,
    }
