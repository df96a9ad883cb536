"""The referral policy's admin pages: the rules in force and earlier versions, a change
reviewed and then confirmed, audited, refused when stale or tampered with; both languages."""

from __future__ import annotations

import html
import json
import re

from flask import Flask
from werkzeug.test import TestResponse

from exchange.agencies.models import AGENCY_KINDS
from exchange.extensions import db
from exchange.referrals.policy import current_referral_policy, set_referral_policy
from schemas.referral import REFERRAL_KINDS
from tests.exchange.helpers import audit_entry
from tests.factories import OPERATOR, World
from tests.web.pages import Browser
from tests.web.test_admin_pages import signed_in_admin, text

PAGE = "/admin/referral-policy"


def cells(rules: dict[str, dict[str, list[str]]]) -> dict[str, str]:
    return {
        f"refer.{kind}.{sender}.{receiver}": "y"
        for kind in REFERRAL_KINDS
        for sender in AGENCY_KINDS
        for receiver in rules.get(kind, {}).get(sender, [])
    }


def hidden(page: TestResponse) -> dict[str, str]:
    """The confirmation form's fields, as a browser would send them back."""
    found = re.search(
        r'<form method="post" action="/admin/referral-policy/confirm".*?</form>', text(page), re.S
    )
    assert found, "no confirmation form"
    return {
        name: html.unescape(value)
        for name, value in re.findall(
            r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', found.group(0)
        )
    }


def rules_in_force(app: Flask) -> tuple[int, dict[str, dict[str, list[str]]]]:
    with app.app_context():
        current = current_referral_policy()
        db.session.remove()
        return current.version, json.loads(json.dumps(current.rules))


def restore(app: Flask, rules: dict[str, dict[str, list[str]]]) -> None:
    with app.app_context():
        set_referral_policy(actor=OPERATOR, rules=rules, note="restored after a test")
        db.session.commit()


class TestReferralPolicyPages:
    def test_admins_only_and_in_the_menu(self, app: Flask, world: World) -> None:
        browser, agency, _ = signed_in_admin(app, world)
        version, _rules = rules_in_force(app)
        for path in (PAGE, f"{PAGE}/versions/{version}"):
            response = browser.get(path)
            assert response.status_code == 200, path
            assert "<script>" not in text(response) and 'style="' not in text(response)
        assert f'href="{PAGE}"' in text(browser.get("/"))
        page = text(browser.get(PAGE))
        assert 'name="refer.violation_notification.immigration.labour" value="y" checked' in page
        assert browser.get(f"{PAGE}/versions/999999").status_code == 404
        assert browser.get(f"{PAGE}/versions/abc").status_code == 404
        liaison = Browser(app)
        liaison.sign_in(world.person(agency.agency, "liaison"))
        for path in (PAGE, f"{PAGE}/versions/{version}"):
            refused = liaison.get(path)
            assert refused.status_code == 403
            assert audit_entry(app, refused.headers["Exchange-Request-Id"])["action"] == (
                "auth.denied"
            )

    def test_a_change_is_reviewed_then_confirmed_and_audited(
        self, app: Flask, world: World
    ) -> None:
        browser, _, admin = signed_in_admin(app, world)
        version, original = rules_in_force(app)
        narrowed = json.loads(json.dumps(original))
        narrowed["violation_notification"]["immigration"].remove("labour")
        narrowed["information_provision"]["mext"] = sorted(
            set(narrowed["information_provision"].get("mext", [])) - {"mofa"}
        )
        browser.get(PAGE)
        try:
            missing_note = browser.post(PAGE, {**cells(narrowed), "base_version": str(version)})
            assert missing_note.status_code == 422
            unchanged = browser.post(
                PAGE, {**cells(original), "base_version": str(version), "note": "none"}
            )
            assert unchanged.status_code == 422
            assert "Nothing was changed" in text(unchanged)

            note = "労働局への紹介を一時停止（協議中）"
            review = browser.post(
                PAGE, {**cells(narrowed), "base_version": str(version), "note": note}
            )
            assert review.status_code == 200, text(review)
            page = text(review)
            assert "Confirm the referral policy change" in page
            assert "<del>Withdrawn:" in page and "Labour administration" in page
            entry = audit_entry(app, review.headers["Exchange-Request-Id"])
            assert entry["action"] == "admin.referral_policy.review"
            assert sorted(entry["details"]["changes"]) == [
                "-information_provision:mext:mofa",
                "-violation_notification:immigration:labour",
            ]
            # Reviewing stores nothing.
            assert rules_in_force(app) == (version, original)

            fields = hidden(review)
            carried = json.loads(fields["rules"])
            assert "labour" not in carried["violation_notification"]["immigration"]
            assert set(carried) == set(REFERRAL_KINDS)
            confirmed = browser.post(f"{PAGE}/confirm", fields, csrf=False)
            assert confirmed.status_code == 302, text(confirmed)
            entry = audit_entry(app, confirmed.headers["Exchange-Request-Id"])
            assert entry["action"] == "admin.referral_policy.update"
            assert entry["details"]["version"] == version + 1
            assert entry["details"]["note"] == note
            assert "-violation_notification:immigration:labour" in entry["details"]["changes"]
            now_version, now_rules = rules_in_force(app)
            assert now_version == version + 1
            assert "labour" not in now_rules["violation_notification"]["immigration"]

            history = text(browser.get(confirmed.headers["Location"]))
            assert admin.username in history and note in history
            assert "<del>Withdrawn:" in history
            listing = text(browser.get(PAGE))
            assert f'href="{PAGE}/versions/{version}"' in listing
            assert f'href="{PAGE}/versions/{version + 1}"' in listing
            assert (
                'name="refer.violation_notification.immigration.labour" value="y" checked'
                not in listing
            )

            # The same confirmation again is stale: version + 1 is in force now.
            browser.get(PAGE)
            fields["csrf_token"] = browser.csrf()
            stale = browser.post(f"{PAGE}/confirm", fields)
            assert stale.status_code == 409
            assert rules_in_force(app)[0] == version + 1
            # Rules altered on the way are refused, not stored.
            tampered = {
                **fields,
                "base_version": str(version + 1),
                "rules": json.dumps({"violation_notification": {"immigration": ["nowhere"]}}),
                "csrf_token": browser.csrf(),
            }
            refused = browser.post(f"{PAGE}/confirm", tampered)
            assert refused.status_code == 422
            assert rules_in_force(app)[0] == version + 1
        finally:
            restore(app, original)

    def test_in_japanese(self, app: Flask, world: World) -> None:
        browser, _, _ = signed_in_admin(app, world)
        browser.get("/")
        browser.post("/language", {"lang": "ja", "next": "/"})
        version, _rules = rules_in_force(app)
        page = text(browser.get(PAGE))
        assert "連絡ポリシー" in page and "変更内容を確認する" in page
        assert "違反の疑いの通報" in page
        assert "連絡ポリシー" in text(browser.get(f"{PAGE}/versions/{version}"))
