"""Sign-in through an agency's OpenID Connect identity provider (optional)."""

from __future__ import annotations

from flask import Blueprint

from exchange.ui.access import enter_page

bp = Blueprint("oidc", __name__)
bp.before_request(enter_page)
