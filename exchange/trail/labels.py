"""What auditors read instead of codes: actions, outcomes, purposes and actor kinds, translated.

Entries keep their codes (they are the evidence); the pages show these labels beside them,
and a code without a label is shown as the code itself.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from exchange.records.presentation import PURPOSES as PURPOSES

ACTIONS = {
    "record.read": _l("Record read"),
    "record.read_versions": _l("Record versions read"),
    "record.search": _l("Record search"),
    "record.publish": _l("Record published"),
    "feed.pull": _l("Feed pulled"),
    "feed.ack": _l("Feed acknowledged"),
    "auth.denied": _l("Access denied"),
    "auth.login": _l("Sign-in"),
    "auth.login.failed": _l("Failed sign-in"),
    "auth.logout": _l("Sign-out"),
    "audit.trail.view": _l("Access trail viewed"),
    "audit.entry.view": _l("Audit entry viewed"),
    "audit.patterns.view": _l("Unusual patterns viewed"),
    "audit.log.view": _l("Audit log state viewed"),
    "audit.verify": _l("Audit log verified"),
    "audit.export": _l("Audit trail exported"),
    "audit.lookup": _l("Audit hash look-up"),
    "admin.policy.update": _l("Sharing policy changed"),
    "key.revoke": _l("Signing key revoked"),
}

# The actions auditors most often filter by, in the order the filter offers them.
FILTER_ACTIONS = (
    "record.read",
    "record.read_versions",
    "record.search",
    "record.publish",
    "feed.pull",
    "auth.denied",
    "auth.login",
    "auth.login.failed",
    "admin.policy.update",
    "key.revoke",
    "audit.verify",
    "audit.export",
)

OUTCOMES = {
    "ok": _l("Completed"),
    "denied": _l("Denied"),
    "invalid": _l("Invalid request"),
    "error": _l("Server error"),
}

ACTOR_KINDS = {
    "user": _l("User"),
    "system": _l("System"),
    "operator": _l("Operator"),
    "anonymous": _l("Unidentified"),
}

FINDINGS = {
    "modified": _l("An entry was modified"),
    "deleted": _l("An entry was deleted"),
    "inserted": _l("An entry was inserted"),
    "moved": _l("An entry was moved"),
    "checkpoint": _l("A checkpoint does not verify"),
    "unsequenced": _l("An entry was never sequenced"),
}
