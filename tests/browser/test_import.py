"""A liaison officer imports a Shift_JIS sheet in the browser, in Japanese, under the CSP."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskCliRunner
from playwright.sync_api import expect

from tests.browser.screen import Tab
from tests.browser.test_csp import PageWatch
from tests.client.test_import import ROWS, csv_text
from tests.factories import World


class TestImportInTheBrowser:
    def test_upload_report_confirm(
        self, tabs: Callable[[str], Tab], world: World, runner: FlaskCliRunner
    ) -> None:
        agency = world.agency("otit")
        assert runner.invoke(args=["agency", "custodial-key", agency.agency]).exit_code == 0
        tab = tabs("")
        watch = PageWatch(tab.page)
        tab.sign_in(world.person(agency.agency, "liaison"))

        tab.open("/import")
        tab.page.get_by_label(tab.t("Spreadsheet (CSV or .xlsx)")).set_input_files(
            {
                "name": "ブローカー一覧.csv",
                "mimeType": "text/csv",
                "buffer": csv_text(ROWS).encode("cp932"),
            }
        )
        tab.press("Upload and check")
        tab.snap("report")
        expect(tab.page.get_by_text("Shift_JIS (cp932)")).to_be_visible()
        expect(tab.page.get_by_text("ブローカー一覧.csv")).to_be_visible()

        tab.press("Sign and publish")
        tab.snap("published")
        message = tab.t(
            "Published: %(created)s new, %(amended)s amended, %(unchanged)s unchanged.",
            created=3,
            amended=0,
            unchanged=0,
        )
        expect(tab.page.get_by_text(message)).to_be_visible()
        assert watch.clean(), (watch.dialogs, watch.violations, watch.errors)
