"""Every action the exchange records has a label in both languages, and the trail's filter
offers every one."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask
from flask_babel import force_locale

from exchange.trail.labels import ACTIONS
from exchange.trail.recorder import UNROUTED
from tests.web.pages import Browser

SOURCE = Path(__file__).resolve().parents[2] / "exchange"
# Actions chosen while a request runs, or by an operator's command, named in the source.
_WRITTEN = re.compile(
    r"(?:g\.audit\.action = |operator_action\(\s*|_ACTION = |action=)"
    r'"([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)"'
)
# The one action made from a variable: `exchange subscription pause|resume`.
_COMPOSED = {"admin.subscription.paused", "admin.subscription.active"}


def view_actions(app: Flask) -> set[str]:
    """The action of every view: its ``audited`` name, or the recorder's fallback."""
    return {
        getattr(view, "audit_action", f"request.{endpoint}")
        for endpoint, view in app.view_functions.items()
    } | {UNROUTED}


def written_actions() -> set[str]:
    found = set()
    for path in SOURCE.rglob("*.py"):
        found.update(_WRITTEN.findall(path.read_text(encoding="utf-8")))
    return found | _COMPOSED


class TestActionLabels:
    def test_every_view_has_a_labelled_action(self, app: Flask) -> None:
        actions = view_actions(app)
        assert {"request.static", "ui.language", "admin.policy.read"} <= actions
        assert sorted(actions - ACTIONS.keys()) == []

    def test_every_action_the_source_writes_is_labelled(self) -> None:
        actions = written_actions()
        assert {"auth.login.failed", "subscription.form", "admin.audit.verify"} <= actions
        assert sorted(actions - ACTIONS.keys()) == []

    def test_every_label_is_translated(self, app: Flask) -> None:
        with app.test_request_context():
            with force_locale("en"):
                english = {code: str(text) for code, text in ACTIONS.items()}
            with force_locale("ja"):
                japanese = {code: str(text) for code, text in ACTIONS.items()}
        assert [code for code in ACTIONS if japanese[code] == english[code]] == []
        # One label, one action: a reader can tell any two apart.
        assert len(set(english.values())) == len(english)
        assert len(set(japanese.values())) == len(japanese)

    def test_the_filter_offers_every_action(self, app: Flask, audit_browser: Browser) -> None:
        page = audit_browser.get("/audit").get_data(as_text=True)
        select = page[page.index('<select id="action"') :]
        select = select[: select.index("</select>")]
        offered = set(re.findall(r'<option[^>]* value="([^"]*)"', select))
        assert offered - {""} == set(ACTIONS)
        assert "<optgroup" in select and "Administration" in select
