"""Problem titles and explanations in the reader's language, for error pages.

The API's problem documents stay in English with stable codes; a page shows people the
same problem in words of their language, with the code beside it for support.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

# code -> (title, explanation); codes without an entry show the problem's own text.
PAGE_TEXTS = {
    "not_found": (_l("Page not found"), _l("There is no page at this address.")),
    "method_not_allowed": (_l("Not possible here"), _l("This page does not take that action.")),
    "role_required": (
        _l("Not allowed"),
        _l("Your role does not include this page. Ask your administrator if you need it."),
    ),
    "page_undeclared": (_l("Not available"), _l("This page is not available.")),
    "csrf_invalid": (
        _l("Form expired"),
        _l("The form was not sent from this site's page, or it expired. Reload and retry."),
    ),
    "policy_denied": (
        _l("Not allowed by the sharing policy"),
        _l("Your agency may not read this record under the sharing policy."),
    ),
    "record_not_found": (_l("No such record"), _l("There is no record with this id.")),
    "record_id_invalid": (
        _l("Not a record id"),
        _l("The address does not hold a record id. Open the record from a search or a link."),
    ),
    "version_not_found": (_l("No such version"), _l("The record has no such version.")),
    "notice_not_found": (_l("No such notice"), _l("There is no notice you may see here.")),
    "notice_self_approval": (
        _l("Four eyes"),
        _l("A notice is approved or rejected by a second person, never by who drafted it."),
    ),
    "approver_role_required": (
        _l("Approver role required"),
        _l("Only a person with the approver role approves or rejects a notice."),
    ),
    "notice_dispatch_mofa_only": (
        _l("Dispatched by MOFA only"),
        _l("The Ministry of Foreign Affairs countersigns and dispatches notices."),
    ),
    "notice_dispatched": (
        _l("Notice dispatched"),
        _l("A dispatched notice is never changed; record the government's answer instead."),
    ),
    "notice_state_invalid": (
        _l("Not at this stage"),
        _l("The notice has moved on since this page was shown. Reload it."),
    ),
    "body_too_large": (_l("Too large"), _l("What was sent is larger than the exchange accepts.")),
    "audit_unavailable": (
        _l("Audit log unavailable"),
        _l("The request was not carried out, because its audit entry could not be written."),
    ),
    "database_unavailable": (_l("Temporarily unavailable"), _l("Please retry in a moment.")),
    "internal_error": (
        _l("Something went wrong"),
        _l("The request failed. Quote the request id below to the help desk."),
    ),
    "invalid_characters": (
        _l("Invalid characters"),
        _l("The address contains characters that are not allowed."),
    ),
}
