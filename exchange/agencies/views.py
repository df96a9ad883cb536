"""Administrators' pages: agencies, users and the sharing policy."""

from __future__ import annotations

from flask import Blueprint

from exchange.ui.access import enter_page

bp = Blueprint("agencies_ui", __name__)
bp.before_request(enter_page)
