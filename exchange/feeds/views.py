"""Liaison officers' pages: their agency's subscriptions."""

from __future__ import annotations

from flask import Blueprint

from exchange.ui.access import enter_page

bp = Blueprint("subscriptions_ui", __name__)
bp.before_request(enter_page)
