"""Liaison officers' pages: search and the record page."""

from __future__ import annotations

from flask import Blueprint

from exchange.ui.access import enter_page

bp = Blueprint("records_ui", __name__)
bp.before_request(enter_page)
