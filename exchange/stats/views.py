"""The statistics page: counts for periodic publication, small counts suppressed."""

from __future__ import annotations

from flask import Blueprint

from exchange.ui.access import enter_page

bp = Blueprint("stats_ui", __name__)
bp.before_request(enter_page)
