"""What auditors read instead of codes: actions, outcomes, purposes and actor kinds, translated.

Entries keep their codes (they are the evidence); the pages show these labels beside them,
and a code without a label is shown as the code itself.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from exchange.records.presentation import PURPOSES as PURPOSES

# Every action the exchange records, by area, in the order the trail's filter offers them.
ACTION_GROUPS = (
    (
        _l("Records and feeds"),
        {
            "record.read": _l("Record read"),
            "record.read_versions": _l("Record versions read"),
            "record.search": _l("Record search"),
            "record.purpose_prompt": _l("Purpose asked before a look-up"),
            "record.publish": _l("Record published"),
            "feed.pull": _l("Feed pulled"),
            "feed.ack": _l("Feed acknowledged"),
            "subscription.list": _l("Subscriptions listed"),
            "subscription.read": _l("Subscription viewed"),
            "subscription.form": _l("Subscription form opened"),
            "subscription.create": _l("Subscription created"),
            "subscription.update": _l("Subscription changed"),
            "subscription.delete_confirm": _l("Subscription deletion asked to confirm"),
            "subscription.delete": _l("Subscription deleted"),
            "subscription.dead_letters": _l("Undelivered events viewed"),
            "subscription.redrive": _l("Undelivered events sent again"),
            "stats.read": _l("Statistics viewed"),
            "stats.export": _l("Statistics exported"),
            "retention.dispose": _l("Records disposed of"),
        },
    ),
    (
        _l("TAXII gateway"),
        {
            "taxii.discovery": _l("TAXII server discovered"),
            "taxii.api_root": _l("TAXII API root read"),
            "taxii.collections": _l("TAXII collections listed"),
            "taxii.collection": _l("TAXII collection read"),
            "taxii.objects": _l("TAXII objects read"),
            "taxii.object": _l("TAXII object read"),
            "taxii.versions": _l("TAXII object versions read"),
            "taxii.manifest": _l("TAXII manifest read"),
            "taxii.publish": _l("TAXII objects offered (refused: read-only)"),
            "taxii.delete": _l("TAXII object deletion asked (refused: read-only)"),
        },
    ),
    (
        _l("Sign-in and pages"),
        {
            "auth.login": _l("Sign-in"),
            "auth.login.password": _l("Password accepted"),
            "auth.login.second_factor": _l("Code entry page"),
            "auth.login.failed": _l("Failed sign-in"),
            "auth.totp.enrol": _l("Second-factor set-up page"),
            "auth.totp.enrolled": _l("Second factor set up"),
            "auth.oidc.begin": _l("Sign-in with an identity provider started"),
            "auth.oidc.callback": _l("Return from an identity provider"),
            "auth.logout": _l("Sign-out"),
            "auth.denied": _l("Access denied"),
            "ui.home": _l("Home page viewed"),
            "ui.language": _l("Display language changed"),
            "request.static": _l("Stylesheet, script or icon fetched"),
            "request.unrouted": _l("Request to an unknown address"),
        },
    ),
    (
        _l("Audit"),
        {
            "audit.trail.view": _l("Access trail viewed"),
            "audit.entry.view": _l("Audit entry viewed"),
            "audit.patterns.view": _l("Unusual patterns viewed"),
            "audit.log.view": _l("Audit log state viewed"),
            "audit.verify": _l("Audit log verified"),
            "audit.export": _l("Audit trail exported"),
            "audit.lookup": _l("Audit hash look-up"),
            "audit.checkpoint.read": _l("Checkpoint fetched"),
            "audit.proof.inclusion": _l("Inclusion proof fetched"),
            "audit.proof.consistency": _l("Consistency proof fetched"),
            "audit.entries.read": _l("Audit entries fetched"),
            "audit.key.read": _l("Log verifier key fetched"),
            "audit.cosignature.add": _l("Witness cosignature received"),
            "audit.cosignature.list": _l("Witness cosignatures listed"),
            "entry.unreadable": _l("Unreadable entry"),
        },
    ),
    (
        _l("Administration"),
        {
            "admin.agency.list": _l("Agencies listed"),
            "admin.agency.read": _l("Agency viewed"),
            "admin.agency.create": _l("Agency added"),
            "admin.user.list": _l("Users listed"),
            "admin.user.read": _l("User viewed"),
            "admin.user.create": _l("User added"),
            "admin.user.roles": _l("User's roles changed"),
            "admin.user.unlock": _l("User unlocked"),
            "admin.user.disable": _l("User disabled"),
            "admin.user.enable": _l("User enabled again"),
            "admin.user.reset_second_factor": _l("User's second factor reset"),
            "admin.user.link_oidc": _l("User linked to an identity provider"),
            "admin.system.list": _l("Systems listed"),
            "admin.system.read": _l("System viewed"),
            "admin.system.create": _l("System added"),
            "admin.system.purpose": _l("System's standing purpose set"),
            "admin.certificate.issue": _l("Client certificate issued"),
            "admin.certificate.read": _l("Client certificate downloaded"),
            "admin.certificate.revoke": _l("Client certificate revoked"),
            "admin.key.list": _l("Signing keys listed"),
            "admin.key.read": _l("Signing key viewed"),
            "admin.key.register": _l("Signing key registered by an administrator"),
            "admin.key.retire": _l("Signing key retired by an administrator"),
            "admin.key.revoke": _l("Signing key revoked by an administrator"),
            "admin.policy.read": _l("Sharing policy viewed"),
            "admin.policy.update": _l("Sharing policy changed"),
            "admin.hold.list": _l("Legal holds listed"),
            "admin.hold.request": _l("Legal hold asked for"),
            "admin.hold.approve": _l("Legal hold approved"),
            "admin.hold.lift": _l("Legal hold lifted"),
        },
    ),
    (
        _l("Operator commands"),
        {
            "admin.init": _l("Exchange initialised"),
            "admin.database.grant": _l("Database role granted"),
            "admin.demo.load": _l("Demo records loaded"),
            "admin.demo.people": _l("Demo users created"),
            "admin.subscription.list": _l("Subscriptions listed by an operator"),
            "admin.subscription.paused": _l("Subscription paused by an operator"),
            "admin.subscription.active": _l("Subscription resumed by an operator"),
            "admin.subscription.delete": _l("Subscription deleted by an operator"),
            "admin.subscription.dead_letters": _l("Undelivered events viewed by an operator"),
            "admin.subscription.redrive": _l("Undelivered events sent again by an operator"),
            "admin.audit.verify": _l("Audit log verified by an operator"),
            "admin.audit.export": _l("Audit log exported by an operator"),
            "admin.audit.lookup": _l("Audit hash look-up by an operator"),
            "admin.audit.checkpoint": _l("Checkpoint read by an operator"),
            "admin.rotate.receipt_key": _l("New receipt key published"),
            "admin.rotate.receipt_key.end_overlap": _l("Waiting receipt key made to sign now"),
            "admin.rotate.delivery": _l("Push delivery certificate rotated"),
            "admin.rotate.server_certificate": _l("Server certificate rotated"),
            "admin.rotate.ca.begin": _l("CA rotation begun"),
            "admin.rotate.ca.finish": _l("CA rotation finished"),
            "admin.backup": _l("Backup taken"),
            "admin.backup.restore": _l("Backup restored"),
        },
    ),
    (
        _l("Agency systems"),
        {
            "identity.read": _l("System's own identity fetched"),
            "agency.list": _l("Agency list fetched"),
            "agency.read": _l("Agency fetched"),
            "agency.keys.read": _l("Agency's public keys fetched"),
            "key.register": _l("Signing key registered by its agency"),
            "key.retire": _l("Signing key retired by its agency"),
            "key.revoke": _l("Signing key revoked"),
            "service.read": _l("Service description fetched"),
            "openapi.read": _l("API description fetched"),
            "pki.ca.read": _l("CA certificate fetched"),
            "pki.crl.read": _l("Certificate revocation list fetched"),
            "pki.jwks.read": _l("Exchange's public keys fetched"),
        },
    ),
)

ACTIONS = {code: text for _, actions in ACTION_GROUPS for code, text in actions.items()}

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
