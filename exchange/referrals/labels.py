"""What people read instead of the codes of referral kinds, steps and outcomes."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

KIND_LABELS = {
    "information_provision": _l("Information provision"),
    "violation_notification": _l("Notification of a suspected violation"),
    "investigation_request": _l("Request for investigation"),
    "visa_screening_attention": _l("Request for visa-screening attention"),
    "criminal_complaint_prepared": _l("Criminal complaint prepared"),
}
STATE_LABELS = {
    "sent": _l("Sent"),
    "acknowledged": _l("Acknowledged"),
    "assigned": _l("Assigned"),
    "closed": _l("Closed"),
}
OUTCOME_LABELS = {
    "guidance_given": _l("Guidance given"),
    "corrective_order": _l("Corrective order"),
    "onsite_inspection": _l("On-site inspection"),
    "licence_revoked": _l("Licence revoked"),
    "complaint_filed": _l("Criminal complaint filed"),
    "visa_refused": _l("Visa refused"),
    "information_used": _l("Information used in the agency's work"),
    "no_action": _l("No action (with a reason)"),
}
TAB_LABELS = {
    "open": _l("Open"),
    "overdue": _l("Overdue"),
    "closed": _l("Closed"),
}
BOX_LABELS = {"inbox": _l("Inbox"), "outbox": _l("Outbox")}
