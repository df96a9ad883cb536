"""Administrators' pages: systems, certificates and signing keys."""

from __future__ import annotations

from flask import Blueprint

from exchange.ui.access import enter_page

bp = Blueprint("pki_ui", __name__)
bp.before_request(enter_page)
