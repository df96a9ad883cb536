"""The web UI's shared parts: sessions, CSRF, languages, security headers, error pages.

Each domain serves its own pages from ``views.py``; this package binds what they share.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask_babel import Babel, get_locale
from flask_wtf.csrf import CSRFProtect

from exchange.ui import assets, filters, security
from exchange.ui.access import select_locale
from exchange.ui.navigation import menu, role_labels

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"

babel = Babel()
csrf = CSRFProtect()


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    app.session_interface = security.VaultSessionInterface()
    babel.init_app(app, locale_selector=select_locale)
    csrf.init_app(app)
    security.init_app(app)
    filters.init_app(app)
    assets.init_app(app)
    app.add_template_global(menu, "menu")
    app.add_template_global(role_labels, "role_labels")
    app.add_template_global(lambda: str(get_locale() or "ja"), "current_locale")
