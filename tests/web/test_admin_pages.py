"""The administrators' pages: agencies, systems and certificates, keys, users, policy."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import Flask
from sqlalchemy import select
from werkzeug.test import TestResponse

from exchange.agencies.models import AGENCY_KINDS, Agency, System
from exchange.agencies.policy import current_policy, set_policy
from exchange.auth.models import User
from exchange.extensions import db
from exchange.pki.bundles import log_verifier_key
from exchange.pki.models import Certificate, SigningKey
from exchange.pki.vault import load_vault
from exchange.ui.filters import JST
from keys.jwk import generate_signing_key, public_jwk, thumbprint
from keys.pop import make_proof
from schemas import RECORD_TYPES
from tests.exchange.helpers import audit_entry
from tests.factories import OPERATOR, AgencySystem, Person, World
from tests.web.pages import Browser


def signed_in_admin(app: Flask, world: World) -> tuple[Browser, AgencySystem, Person]:
    """A fresh agency with an administrator signed in, pages in English."""
    agency = world.agency("mofa")
    admin = world.person(agency.agency, "admin")
    browser = Browser(app)
    browser.sign_in(admin)
    browser.get("/")
    browser.post("/language", {"lang": "en", "next": "/"})
    return browser, agency, admin


def system_id(app: Flask, agency: str, name: str = "gateway") -> int:
    with app.app_context():
        found = db.session.scalar(
            select(System.id).where(System.agency_id == agency, System.name == name)
        )
        assert found is not None
        return int(found)


def text(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def make_csr() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "anything")]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM)


class TestAccess:
    def test_every_page_renders_for_an_admin_and_is_refused_to_others(
        self, app: Flask, world: World
    ) -> None:
        browser, agency, admin = signed_in_admin(app, world)
        pages = [
            "/admin/agencies",
            f"/admin/agencies/{agency.agency}",
            "/admin/systems",
            f"/admin/systems/{system_id(app, agency.agency)}",
            "/admin/keys",
            f"/admin/keys/{agency.kid}",
            "/admin/users",
            "/admin/users/new",
            f"/admin/users/{admin.username}",
            "/admin/policy",
            "/admin/policy/versions/1",
        ]
        for path in pages:
            response = browser.get(path)
            assert response.status_code == 200, path
            assert "Content-Security-Policy" in response.headers
            assert 'style="' not in text(response) and "<script>" not in text(response)
        for role in ("liaison", "auditor"):
            other = Browser(app)
            other.sign_in(world.person(agency.agency, role))
            for path in pages:
                response = other.get(path)
                assert response.status_code == 403, (role, path)
                entry = audit_entry(app, response.headers["Exchange-Request-Id"])
                assert entry["action"] == "auth.denied"

    def test_menu_names_the_admin_pages(self, app: Flask, world: World) -> None:
        browser, _, _ = signed_in_admin(app, world)
        page = text(browser.get("/"))
        for path in ("/admin/agencies", "/admin/systems", "/admin/keys", "/admin/users"):
            assert f'href="{path}"' in page
        assert 'href="/admin/policy"' in page

    def test_unknown_ids_answer_404_not_500(self, app: Flask, world: World) -> None:
        browser, _, _ = signed_in_admin(app, world)
        for path in (
            "/admin/agencies/nowhere",
            "/admin/systems/999999",
            "/admin/systems/99999999999999",
            "/admin/keys/nope",
            "/admin/users/nobody",
            "/admin/policy/versions/999999",
            "/admin/certificates/abc.pem",
        ):
            assert browser.get(path).status_code == 404, path

    def test_a_post_without_its_csrf_token_is_refused_and_changes_nothing(
        self, app: Flask, world: World
    ) -> None:
        browser, agency, _ = signed_in_admin(app, world)
        browser.get("/admin/agencies")
        response = browser.post(
            "/admin/agencies",
            {"agency_id": "forged-agency", "kind": "police", "name_ja": "偽", "name_en": "Forged"},
            csrf=False,
        )
        assert response.status_code == 400
        assert audit_entry(app, response.headers["Exchange-Request-Id"])["details"]["reason"] == (
            "csrf_invalid"
        )
        revoke = browser.post(
            f"/admin/certificates/{agency.fingerprint}/revoke",
            {"reason": "key_compromise"},
            csrf=False,
        )
        assert revoke.status_code == 400
        with app.app_context():
            assert db.session.get(Agency, "forged-agency") is None
            certificate = db.session.get(Certificate, agency.fingerprint)
            assert certificate is not None and certificate.revoked_at is None


class TestAgencies:
    def test_an_agency_created_under_a_parent_shows_in_the_tree(
        self, app: Flask, world: World
    ) -> None:
        browser, _, _ = signed_in_admin(app, world)
        ministry = world.agency("labour")
        browser.get("/admin/agencies")
        bureau = f"{ministry.agency}-tokyo"
        response = browser.post(
            "/admin/agencies",
            {
                "agency_id": bureau,
                "kind": "labour",
                "name_ja": "東京労働局",
                "name_en": "Tokyo Labour Bureau",
                "parent": ministry.agency,
            },
        )
        assert response.status_code == 302, text(response)
        entry = audit_entry(app, response.headers["Exchange-Request-Id"])
        assert entry["action"] == "admin.agency.create"
        assert entry["details"] == {"agency": bureau, "parent": ministry.agency}
        tree = text(browser.get("/admin/agencies"))
        # The bureau is listed inside its ministry's item.
        item = re.search(
            rf'href="/admin/agencies/{ministry.agency}">.*?</li>', tree, flags=re.DOTALL
        )
        assert item is not None and f'href="/admin/agencies/{bureau}"' in item.group(0)
        assert "Labour administration" in tree
        detail = text(browser.get(f"/admin/agencies/{bureau}"))
        assert "Tokyo Labour Bureau" in detail and ministry.agency in detail

    def test_a_duplicate_or_invalid_agency_shows_form_errors(
        self, app: Flask, world: World
    ) -> None:
        browser, agency, _ = signed_in_admin(app, world)
        browser.get("/admin/agencies")
        taken = browser.post(
            "/admin/agencies",
            {"agency_id": agency.agency, "kind": "mofa", "name_ja": "外", "name_en": "MOFA"},
        )
        assert taken.status_code == 409
        assert "An agency with this id already exists." in text(taken)
        invalid = browser.post(
            "/admin/agencies",
            {"agency_id": "Bad Id", "kind": "spies", "name_ja": "", "name_en": ""},
        )
        assert invalid.status_code == 422
        assert 'aria-invalid="true"' in text(invalid)


class TestCertificates:
    def test_a_system_created_on_the_page_gets_a_certificate_from_an_uploaded_csr(
        self, app: Flask, world: World
    ) -> None:
        browser, agency, _ = signed_in_admin(app, world)
        browser.get("/admin/systems")
        created = browser.post(
            "/admin/systems", {"agency": agency.agency, "name": "audit-box", "roles": "auditor"}
        )
        assert created.status_code == 302, text(created)
        target = system_id(app, agency.agency, "audit-box")
        assert created.headers["Location"].endswith(f"/admin/systems/{target}")
        with app.app_context():
            system = db.session.get(System, target)
            assert system is not None and system.roles == "auditor"
        browser.get(f"/admin/systems/{target}")
        response = browser.post(
            f"/admin/systems/{target}/csr",
            {"csr": (io.BytesIO(make_csr()), "request.csr"), "csr_days": "90"},
            content_type="multipart/form-data",
        )
        assert response.status_code == 302, text(response)
        entry = audit_entry(app, response.headers["Exchange-Request-Id"])
        assert entry["action"] == "admin.certificate.issue"
        fingerprint = entry["details"]["fingerprint"]
        with app.app_context():
            certificate = db.session.get(Certificate, fingerprint)
            assert certificate is not None and certificate.system_id == target
            issued = x509.load_pem_x509_certificate(certificate.pem.encode())
        assert issued.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "audit-box"
        page = text(browser.get(f"/admin/systems/{target}"))
        assert fingerprint in page and "JST" in page
        pem = browser.get(f"/admin/certificates/{fingerprint}.pem")
        assert pem.status_code == 200 and pem.data.startswith(b"-----BEGIN CERTIFICATE-----")

    def test_an_invalid_csr_is_a_form_error_not_a_server_error(
        self, app: Flask, world: World
    ) -> None:
        browser, agency, _ = signed_in_admin(app, world)
        target = system_id(app, agency.agency)
        browser.get(f"/admin/systems/{target}")
        for content in (b"not a CSR at all", b"\xff\xfe\x00binary", b""):
            response = browser.post(
                f"/admin/systems/{target}/csr",
                {"csr": (io.BytesIO(content), "request.csr"), "csr_days": "90"},
                content_type="multipart/form-data",
            )
            assert response.status_code == 422, content
            assert 'aria-invalid="true"' in text(response)
        missing = browser.post(f"/admin/systems/{target}/csr", {"csr_days": "90"})
        assert missing.status_code == 422
        assert "Choose the CSR file the agency sent." in text(missing)

    def test_a_downloaded_bundle_holds_a_certificate_that_chains_to_the_ca(
        self, app: Flask, world: World
    ) -> None:
        browser, agency, _ = signed_in_admin(app, world)
        target = system_id(app, agency.agency)
        browser.get(f"/admin/systems/{target}")
        response = browser.post(f"/admin/systems/{target}/bundle", {"bundle_days": "30"})
        assert response.status_code == 200
        assert response.mimetype == "application/zip"
        assert "attachment" in response.headers["Content-Disposition"]
        assert response.headers["Cache-Control"] == "no-store"
        archive = zipfile.ZipFile(io.BytesIO(response.data))
        folder = f"{agency.agency}-gateway/"
        names = set(archive.namelist())
        assert {f"{folder}{n}" for n in ("client.pem", "client.key.pem", "ca.pem")} <= names
        manifest = json.loads(archive.read(f"{folder}exchange.json"))
        assert manifest["agency"] == agency.agency and manifest["private_key"] == "client.key.pem"
        certificate = x509.load_pem_x509_certificate(archive.read(f"{folder}client.pem"))
        ca = x509.load_pem_x509_certificate(archive.read(f"{folder}ca.pem"))
        with app.app_context():
            assert ca == load_vault(app).ca.certificate
            assert manifest["log_key"] == log_verifier_key()
        certificate.verify_directly_issued_by(ca)
        key = serialization.load_pem_private_key(archive.read(f"{folder}client.key.pem"), None)
        assert key.public_key() == certificate.public_key()
        entry = audit_entry(app, response.headers["Exchange-Request-Id"])
        assert entry["action"] == "admin.certificate.issue"
        with app.app_context():
            stored = db.session.get(Certificate, entry["details"]["fingerprint"])
            assert stored is not None
            # The private key went out in the download and nowhere else.
            assert "PRIVATE KEY" not in stored.pem

    def test_revoking_on_the_page_makes_the_api_refuse_the_system(
        self, app: Flask, world: World
    ) -> None:
        browser, _, _ = signed_in_admin(app, world)
        police = world.agency("police")
        api = app.test_client()
        assert api.get("/api/v1/agencies", environ_base=police.environ()).status_code == 200
        target = system_id(app, police.agency)
        page = text(browser.get(f"/admin/systems/{target}"))
        assert police.fingerprint in page and "data-confirm" in page
        response = browser.post(
            f"/admin/certificates/{police.fingerprint}/revoke", {"reason": "key_compromise"}
        )
        assert response.status_code == 302, text(response)
        entry = audit_entry(app, response.headers["Exchange-Request-Id"])
        assert entry["action"] == "admin.certificate.revoke"
        assert entry["details"]["fingerprint"] == police.fingerprint
        assert entry["details"]["reason"] == "key_compromise"
        assert entry["actor"]["user"]
        refused = api.get("/api/v1/agencies", environ_base=police.environ())
        assert refused.status_code == 403
        assert refused.get_json()["code"] == "certificate_revoked"
        assert "Private key compromised" in text(browser.get(f"/admin/systems/{target}"))

    def test_the_standing_purpose_is_set_on_the_system_page_and_used_by_taxii(
        self, app: Flask, world: World
    ) -> None:
        browser, _, _ = signed_in_admin(app, world)
        otit = world.agency("otit")
        target = system_id(app, otit.agency)
        objects = "/taxii2/api/collections/"
        api = app.test_client()
        assert "Standing purpose" in text(browser.get(f"/admin/systems/{target}"))
        response = browser.post(f"/admin/systems/{target}/purpose", {"purpose": "licensing"})
        assert response.status_code == 302, text(response)
        entry = audit_entry(app, response.headers["Exchange-Request-Id"])
        assert entry["action"] == "admin.system.purpose"
        assert entry["details"]["purpose"] == "licensing"
        with app.app_context():
            stored = db.session.get(System, target)
            assert stored is not None and stored.standing_purpose == "licensing"
        collections = api.get(objects, environ_base=otit.environ()).get_json()["collections"]
        broker = next(c for c in collections if c["alias"] == "broker")
        read = api.get(f"{objects}{broker['id']}/manifest/", environ_base=otit.environ())
        assert read.status_code == 200
        assert audit_entry(app, read.headers["Exchange-Request-Id"])["purpose"] == "licensing"
        browser.get(f"/admin/systems/{target}")
        assert (
            browser.post(f"/admin/systems/{target}/purpose", {"purpose": "curiosity"}).status_code
            == 422
        )
        browser.get(f"/admin/systems/{target}")
        assert browser.post(f"/admin/systems/{target}/purpose", {"purpose": ""}).status_code == 302
        refused = api.get(f"{objects}{broker['id']}/manifest/", environ_base=otit.environ())
        assert refused.get_json()["error_code"] == "purpose_required"

    def test_an_unknown_revocation_reason_is_refused(self, app: Flask, world: World) -> None:
        browser, agency, _ = signed_in_admin(app, world)
        browser.get(f"/admin/systems/{system_id(app, agency.agency)}")
        response = browser.post(
            f"/admin/certificates/{agency.fingerprint}/revoke", {"reason": "boredom"}
        )
        assert response.status_code == 422
        assert world.certificate(agency.fingerprint).revoked_at is None  # type: ignore[union-attr]

    def test_certificates_expiring_soon_are_listed_first(self, app: Flask, world: World) -> None:
        browser, _, _ = signed_in_admin(app, world)
        soon = world.agency("otit", valid_days=3)
        later = world.agency("otit", valid_days=20)
        page = text(browser.get("/admin/systems"))
        expiry = page.split('id="expiry-heading"', 1)[1].split('id="systems-heading"', 1)[0]
        assert 'class="expiring"' in expiry
        assert expiry.index(f"{soon.agency}/gateway") < expiry.index(f"{later.agency}/gateway")


class TestSigningKeys:
    def test_a_key_with_a_valid_proof_is_registered(self, app: Flask, world: World) -> None:
        browser, agency, _ = signed_in_admin(app, world)
        page = text(browser.get("/admin/keys"))
        assert "exchange client keygen" in page
        key = generate_signing_key("ES256")
        response = browser.post(
            "/admin/keys",
            {
                "agency": agency.agency,
                "jwk": json.dumps(public_jwk(key)),
                "proof": make_proof(key=key, agency=agency.agency),
            },
        )
        assert response.status_code == 302, text(response)
        kid = thumbprint(public_jwk(key))
        entry = audit_entry(app, response.headers["Exchange-Request-Id"])
        assert entry["action"] == "admin.key.register"
        assert entry["details"] == {"agency": agency.agency, "kid": kid}
        with app.app_context():
            stored = db.session.get(SigningKey, kid)
            assert stored is not None and stored.status == "active"

    def test_a_bad_proof_or_a_private_key_is_a_form_error(self, app: Flask, world: World) -> None:
        browser, agency, _ = signed_in_admin(app, world)
        other = world.agency("police")
        browser.get("/admin/keys")
        key = generate_signing_key("Ed25519")
        cases = [
            # Made for another agency: one agency cannot register another's key as its own.
            (public_jwk(key), make_proof(key=key, agency=other.agency), "does not match"),
            (public_jwk(key), "not.a.proof", "does not match"),
            ({"kty": "OKP", "crv": "Ed25519", "x": "short"}, "a.b.c", "refused"),
        ]
        for jwk, proof, message in cases:
            response = browser.post(
                "/admin/keys", {"agency": agency.agency, "jwk": json.dumps(jwk), "proof": proof}
            )
            assert response.status_code == 422, text(response)
            assert message in text(response)
        private = browser.post(
            "/admin/keys",
            {
                "agency": agency.agency,
                "jwk": json.dumps({**public_jwk(key), "d": "secret"}),
                "proof": make_proof(key=key, agency=agency.agency),
            },
        )
        assert private.status_code == 422 and "This is a private key." in text(private)
        not_json = browser.post(
            "/admin/keys", {"agency": agency.agency, "jwk": "{not json", "proof": "x"}
        )
        assert not_json.status_code == 422
        with app.app_context():
            assert db.session.get(SigningKey, thumbprint(public_jwk(key))) is None

    def test_retire_then_revoke_with_a_compromise_time_in_jst(
        self, app: Flask, world: World
    ) -> None:
        browser, agency, _ = signed_in_admin(app, world)
        browser.get(f"/admin/keys/{agency.kid}")
        retired = browser.post(f"/admin/keys/{agency.kid}/retire", {})
        assert retired.status_code == 302
        assert audit_entry(app, retired.headers["Exchange-Request-Id"])["action"] == (
            "admin.key.retire"
        )
        page = text(browser.get(f"/admin/keys/{agency.kid}"))
        assert 'type="datetime-local"' in page
        future = (datetime.now(JST) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
        refused = browser.post(f"/admin/keys/{agency.kid}/revoke", {"compromised_at": future})
        assert refused.status_code == 422
        moment = (datetime.now(JST) - timedelta(days=1)).replace(second=0, microsecond=0)
        response = browser.post(
            f"/admin/keys/{agency.kid}/revoke",
            {"compromised_at": moment.strftime("%Y-%m-%dT%H:%M")},
        )
        assert response.status_code == 302, text(response)
        entry = audit_entry(app, response.headers["Exchange-Request-Id"])
        assert entry["action"] == "admin.key.revoke"
        assert entry["details"]["kid"] == agency.kid
        with app.app_context():
            stored = db.session.get(SigningKey, agency.kid)
            assert stored is not None and stored.status == "revoked"
            assert stored.compromised_at == moment.astimezone(UTC)
        listing = text(browser.get(f"/admin/keys?agency={agency.agency}"))
        assert moment.strftime("%Y-%m-%d %H:%M JST") in listing


class TestUsers:
    def test_a_new_user_signs_in_and_is_asked_to_enrol_a_second_factor(
        self, app: Flask, world: World
    ) -> None:
        browser, agency, _ = signed_in_admin(app, world)
        browser.get("/admin/users/new")
        username = f"officer-{agency.agency}"
        password = "a long initial password"
        response = browser.post(
            "/admin/users/new",
            {
                "username": username,
                "display_name": "山田 花子",
                "agency": agency.agency,
                "roles": ["liaison", "auditor"],
                "password": password,
            },
        )
        assert response.status_code == 302, text(response)
        entry = audit_entry(app, response.headers["Exchange-Request-Id"])
        assert entry["action"] == "admin.user.create"
        assert entry["details"] == {
            "user": username,
            "agency": agency.agency,
            "roles": "liaison auditor",
        }
        assert password not in json.dumps(entry)
        listing = text(browser.get(f"/admin/users?agency={agency.agency}"))
        assert username in listing and "Not enrolled" in listing
        newcomer = Browser(app)
        newcomer.get("/login")
        signed = newcomer.post("/login", {"username": username, "password": password})
        assert signed.status_code == 302 and signed.headers["Location"].endswith("/login/enrol")
        assert newcomer.get("/login/enrol").status_code == 200

    def test_form_errors_for_a_taken_name_a_short_password_and_no_role(
        self, app: Flask, world: World
    ) -> None:
        browser, agency, admin = signed_in_admin(app, world)
        browser.get("/admin/users/new")
        response = browser.post(
            "/admin/users/new",
            {
                "username": admin.username,
                "display_name": "x",
                "agency": agency.agency,
                "roles": ["liaison"],
                "password": "long enough password",
            },
        )
        assert response.status_code == 422
        assert "This user name is already taken." in text(response)
        response = browser.post(
            "/admin/users/new",
            {
                "username": "someone-new",
                "display_name": "x",
                "agency": agency.agency,
                "password": "short",
            },
        )
        assert response.status_code == 422
        page = text(response)
        assert "Choose at least one role." in page
        assert "A password has at least 12 characters." in page

    def test_resetting_the_second_factor_ends_the_users_sessions(
        self, app: Flask, world: World
    ) -> None:
        browser, agency, _ = signed_in_admin(app, world)
        officer = world.person(agency.agency, "liaison")
        theirs = Browser(app)
        theirs.sign_in(officer)
        assert theirs.get("/").status_code == 200
        browser.get(f"/admin/users/{officer.username}")
        response = browser.post(f"/admin/users/{officer.username}/second-factor/reset", {})
        assert response.status_code == 302
        entry = audit_entry(app, response.headers["Exchange-Request-Id"])
        assert entry["action"] == "admin.user.reset_second_factor"
        assert entry["details"] == {"user": officer.username}
        after = theirs.get("/")
        assert after.status_code == 302 and "/login" in after.headers["Location"]
        with app.app_context():
            user = db.session.scalar(select(User).where(User.username == officer.username))
            assert user is not None and user.totp_enrolled_at is None
        again = Browser(app)
        again.get("/login")
        signed = again.post("/login", {"username": officer.username, "password": officer.password})
        assert signed.headers["Location"].endswith("/login/enrol")

    def test_roles_change_unlock_disable_and_enable(self, app: Flask, world: World) -> None:
        browser, agency, _ = signed_in_admin(app, world)
        officer = world.person(agency.agency, "liaison")
        with app.app_context():
            user = db.session.scalar(select(User).where(User.username == officer.username))
            assert user is not None
            user.locked_until = datetime.now(UTC) + timedelta(minutes=10)
            db.session.commit()
        path = f"/admin/users/{officer.username}"
        assert "Locked" in text(browser.get(path))
        assert browser.post(f"{path}/unlock", {}).status_code == 302
        browser.get(path)
        assert browser.post(f"{path}/roles", {"roles": ["liaison", "auditor"]}).status_code == 302
        browser.get(path)
        assert browser.post(f"{path}/disable", {}).status_code == 302
        assert "Disabled" in text(browser.get(path))
        assert browser.post(f"{path}/enable", {}).status_code == 302
        with app.app_context():
            user = db.session.scalar(select(User).where(User.username == officer.username))
            assert user is not None
            assert (user.roles, user.locked_until, user.disabled_at) == (
                "liaison auditor",
                None,
                None,
            )

    def test_an_admin_cannot_remove_their_own_admin_role_or_disable_themselves(
        self, app: Flask, world: World
    ) -> None:
        browser, _, admin = signed_in_admin(app, world)
        path = f"/admin/users/{admin.username}"
        browser.get(path)
        roles = browser.post(f"{path}/roles", {"roles": ["liaison"]})
        assert roles.status_code == 422
        assert "You cannot remove your own admin role." in text(roles)
        disabled = browser.post(f"{path}/disable", {})
        assert disabled.status_code == 422
        assert "You cannot disable your own account." in text(disabled)
        with app.app_context():
            user = db.session.scalar(select(User).where(User.username == admin.username))
            assert user is not None and user.roles == "admin" and user.disabled_at is None


def _matrix(rules: dict[str, dict[str, list[str]]]) -> dict[str, str]:
    return {
        f"{verb}.{record_type}.{kind}": "y"
        for record_type in RECORD_TYPES
        for verb in ("publish", "read")
        for kind in AGENCY_KINDS
        if kind in rules.get(record_type, {}).get(verb, [])
    }


class TestPolicy:
    def test_an_edit_creates_a_version_and_changes_what_the_api_allows(
        self, app: Flask, world: World
    ) -> None:
        browser, _, admin = signed_in_admin(app, world)
        immigration, labour = world.agency("immigration"), world.agency("labour")
        api = app.test_client()
        envelope = immigration.envelope("illegal_employment")
        published = api.post(
            "/api/v1/records",
            json=immigration.submission(envelope),
            environ_base=immigration.environ(),
        )
        assert published.status_code == 201

        def labour_reads() -> int:
            return api.get(
                f"/api/v1/records/{envelope['id']}",
                environ_base=labour.environ(),
                headers={"Exchange-Purpose": "labour_inspection"},
            ).status_code

        with app.app_context():
            before = current_policy()
            original = json.loads(json.dumps(before.rules))
        assert labour_reads() == 200
        narrowed = json.loads(json.dumps(original))
        narrowed["illegal_employment"]["read"].remove("labour")
        page = text(browser.get("/admin/policy"))
        assert 'name="read.illegal_employment.labour" value="y" checked' in page
        try:
            missing_note = browser.post(
                "/admin/policy", {**_matrix(narrowed), "base_version": str(before.version)}
            )
            assert missing_note.status_code == 422
            assert labour_reads() == 200
            response = browser.post(
                "/admin/policy",
                {
                    **_matrix(narrowed),
                    "base_version": str(before.version),
                    "note": "労働局への共有を一時停止（監査指摘）",
                },
            )
            assert response.status_code == 302, text(response)
            entry = audit_entry(app, response.headers["Exchange-Request-Id"])
            assert entry["action"] == "admin.policy.update"
            assert entry["details"]["version"] == before.version + 1
            assert entry["details"]["note"] == "労働局への共有を一時停止（監査指摘）"
            assert entry["details"]["changes"] == ["-read:illegal_employment:labour"]
            assert labour_reads() == 403
            history = text(browser.get(response.headers["Location"]))
            assert admin.username in history and "Withdrawn" in history
            assert "<del>" in history and "Labour administration" in history
            stale = browser.post(
                "/admin/policy",
                {**_matrix(original), "base_version": str(before.version), "note": "late"},
            )
            assert stale.status_code == 409
        finally:
            with app.app_context():
                set_policy(actor=OPERATOR, rules=original, note="restored after a test")
                db.session.commit()
        assert labour_reads() == 200
