"""The menu: each entry shows when its page exists and the user has one of its roles."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g
from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class MenuEntry:
    endpoint: str
    label: object
    roles: frozenset[str]


ROLE_LABELS = {
    "liaison": _l("Liaison officer"),
    "approver": _l("Approver (second person for notices abroad)"),
    "auditor": _l("Auditor"),
    "admin": _l("Administrator"),
}


def role_labels(roles: frozenset[str]) -> str:
    return "・".join(str(ROLE_LABELS[r]) for r in ROLE_LABELS if r in roles)


MENU = (
    MenuEntry("records_ui.search", _l("Search"), frozenset({"liaison"})),
    MenuEntry("subscriptions_ui.index", _l("Subscriptions"), frozenset({"liaison"})),
    MenuEntry("imports_ui.upload", _l("Import"), frozenset({"liaison"})),
    MenuEntry("referrals_ui.index", _l("Referrals"), frozenset({"liaison"})),
    MenuEntry("notices_ui.index", _l("Notices abroad"), frozenset({"liaison", "approver"})),
    MenuEntry("audit_ui.trail", _l("Access trail"), frozenset({"auditor"})),
    MenuEntry("audit_ui.patterns", _l("Unusual patterns"), frozenset({"auditor"})),
    MenuEntry("audit_ui.log_state", _l("Audit log"), frozenset({"auditor"})),
    MenuEntry("agencies_ui.agencies", _l("Agencies"), frozenset({"admin"})),
    MenuEntry("pki_ui.systems", _l("Systems"), frozenset({"admin"})),
    MenuEntry("pki_ui.keys", _l("Signing keys"), frozenset({"admin"})),
    MenuEntry("agencies_ui.users", _l("Users"), frozenset({"admin"})),
    MenuEntry("agencies_ui.policy", _l("Sharing policy"), frozenset({"admin"})),
    MenuEntry("agencies_ui.referral_policy", _l("Referral policy"), frozenset({"admin"})),
    MenuEntry("retention_ui.holds", _l("Legal holds"), frozenset({"admin"})),
    MenuEntry("stats_ui.index", _l("Statistics"), frozenset({"liaison", "auditor", "admin"})),
)


def menu() -> list[MenuEntry]:
    user = getattr(g, "user", None)
    if user is None:
        return []
    roles = user.role_set
    views = current_app.view_functions
    return [entry for entry in MENU if entry.endpoint in views and entry.roles & roles]
