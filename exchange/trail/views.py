"""Auditors' pages: access trails, unusual patterns, the log's state, exports."""

from __future__ import annotations

from flask import Blueprint

from exchange.ui.access import enter_page

bp = Blueprint("audit_ui", __name__)
bp.before_request(enter_page)
