"""What the pages and the PDF call a notice's states, steps and reported actions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l

STATE_LABELS: Mapping[str, Any] = {
    "draft": _l("Draft"),
    "pending": _l("Awaiting approval"),
    "rejected": _l("Rejected, to be revised"),
    "approved": _l("Approved, awaiting MOFA"),
    "dispatched": _l("Dispatched"),
    "answered": _l("Answered"),
}
STEP_LABELS: Mapping[str, Any] = {
    "submission": _l("Submitted for approval"),
    "approval": _l("Approved"),
    "rejection": _l("Rejected"),
    "dispatch": _l("Countersigned and dispatched by MOFA"),
    "answer": _l("Answer of the government"),
}
ACTIONS_REPORTED: Mapping[str, Any] = {
    "investigation_opened": _l("Investigation opened"),
    "licence_suspended": _l("Licence suspended"),
    "licence_revoked": _l("Licence revoked"),
    "guidance_given": _l("Guidance given"),
    "prosecution": _l("Prosecution"),
    "no_action": _l("No action"),
    "other": _l("Other"),
}
