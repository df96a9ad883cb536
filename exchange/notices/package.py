"""The dispatched package: a JSON document anyone can verify, and a PDF for people.

The JSON carries the notice version as signed, every step of its chain with its detached
JWS, and the public keys that verify them (the same JWKs the exchange serves per agency at
``/api/v1/agencies/{id}/jwks``). The PDF says the same in Japanese and English, with the
record references and each signature's key fingerprint (its RFC 7638 thumbprint, the kid).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from fpdf import FPDF
from fpdf.enums import WrapMode, XPos, YPos
from sqlalchemy import select

from exchange.agencies.models import Agency
from exchange.errors import Kind, Refusal
from exchange.extensions import db
from exchange.notices.labels import ACTIONS_REPORTED, STEP_LABELS
from exchange.notices.models import SENT_STATES, Notice, NoticeStep
from exchange.notices.reading import current_version
from exchange.pki.models import SigningKey
from exchange.pki.service import key_document
from exchange.records import presentation as words
from exchange.records.country_names import country_name_in
from keys.jws import read_header
from schemas.notice import FACT_FIELDS, NOTICE_SIGNATURE_TYPE, NOTICE_STEP_SIGNATURE_TYPE

PACKAGE_FORMAT = "exchange-notice-package/1"
# Fonts with Japanese glyphs, tried in order; EXCHANGE_PDF_FONT names another.
FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
    "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
    "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",
    "/usr/share/fonts/truetype/ipafont-gothic/ipag.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)
# For what a Japanese font lacks: Vietnamese letters with two diacritics (ư, ộ …) in the
# original names of brokers.
FALLBACK_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",)


def _sent(notice: Notice) -> None:
    if notice.state not in SENT_STATES:
        raise Refusal(
            Kind.CONFLICT,
            "notice_not_dispatched",
            "Not dispatched",
            "The package exists once MOFA has dispatched the notice.",
        )


def _chain(notice: Notice) -> list[NoticeStep]:
    """The steps about the dispatched version, in order."""
    return list(
        db.session.scalars(
            select(NoticeStep)
            .where(NoticeStep.notice_id == notice.id, NoticeStep.notice_version == notice.version)
            .order_by(NoticeStep.seq)
        )
    )


def package_document(notice: Notice) -> dict[str, Any]:
    """The verifiable package: each signature covers the RFC 8785 bytes of its document."""
    _sent(notice)
    version = current_version(notice)
    steps = _chain(notice)
    kids = {version.kid, *(s.kid for s in steps)}
    keys = db.session.scalars(select(SigningKey).where(SigningKey.kid.in_(kids)))
    return {
        "format": PACKAGE_FORMAT,
        "notice": {
            "document": json.loads(version.canonical),
            "signature": version.signature,
            "typ": NOTICE_SIGNATURE_TYPE,
            "sha256": version.sha256,
        },
        "steps": [
            {
                "document": json.loads(s.canonical),
                "signature": s.signature,
                "typ": NOTICE_STEP_SIGNATURE_TYPE,
                "sha256": s.sha256,
            }
            for s in steps
        ],
        "keys": [
            {
                "agency": key.agency_id,
                "jwks": f"/api/v1/agencies/{key.agency_id}/jwks",
                "jwk": key_document(key),
            }
            for key in sorted(keys, key=lambda k: k.kid)
        ],
    }


def find_font() -> Path:
    configured = current_app.config.get("EXCHANGE_PDF_FONT")
    for candidate in ([configured] if configured else []) + list(FONT_CANDIDATES):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise Refusal(
        Kind.UNAVAILABLE,
        "pdf_font_missing",
        "No Japanese font",
        "The server has no font with Japanese glyphs (install fonts-ipaexfont-gothic, or set "
        "EXCHANGE_PDF_FONT).",
    )


def _both(message: str, **variables: Any) -> str:
    """A label in Japanese, then in English."""
    with force_locale("ja"):
        japanese = _(message, **variables)
    with force_locale("en"):
        english = _(message, **variables)
    return japanese if japanese == english else f"{japanese} / {english}"


def _lazy_both(label: Any) -> str:
    with force_locale("ja"):
        japanese = str(label)
    with force_locale("en"):
        english = str(label)
    return japanese if japanese == english else f"{japanese} / {english}"


def _coded(vocabulary: Any, code: Any) -> str:
    """A code's label in both languages; a code no vocabulary knows as it is."""
    label = vocabulary.get(code) if vocabulary else None
    return _lazy_both(label) if label is not None else str(code)


def fact_text(name: str, value: Any) -> str:
    """A quoted field as people read it: codes with their labels in both languages."""
    if name == "country":
        return f"{country_name_in('ja', value) or value} / {country_name_in('en', value) or value}"
    if name == "period" and isinstance(value, dict):
        return f"{value.get('from')} – {value.get('to')}"
    if name in ("licences", "measures") and isinstance(value, list):
        kinds = words.value_vocabulary([name, "kind"]) or {}
        parts = (
            ("kind", "number") if name == "licences" else ("date", "kind", "authority", "reference")
        )
        return "; ".join(
            " ".join(
                _coded(kinds, item[part]) if part == "kind" else str(item[part])
                for part in parts
                if item.get(part)
            )
            for item in value
        )
    vocabulary = words.value_vocabulary([name])
    if isinstance(value, list):
        return "、".join(_coded(vocabulary, v) for v in value)
    return _coded(vocabulary, value)


class _NoticePdf(FPDF):
    def __init__(self, font: Path, footer_text: str) -> None:
        super().__init__(format="A4")
        self.add_font("jp", fname=str(font))
        fallbacks = []
        for index, path in enumerate(p for p in FALLBACK_FONTS if Path(p).is_file()):
            self.add_font(f"fallback{index}", fname=path)
            fallbacks.append(f"fallback{index}")
        if fallbacks:
            self.set_fallback_fonts(fallbacks)
        self.footer_text = footer_text
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(18, 18, 18)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("jp", size=7)
        self.cell(0, 5, f"{self.footer_text}  {self.page_no()}/{{nb}}", align="C")

    def heading(self, text: str, size: float = 12) -> None:
        self.ln(2)
        self.set_font("jp", size=size)
        self.multi_cell(
            0, size * 0.6, text, wrapmode=WrapMode.CHAR, new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        self.set_font("jp", size=9)

    def line_of(self, label: str, value: str) -> None:
        self.set_font("jp", size=9)
        self.multi_cell(
            0, 5, f"{label}: {value}", wrapmode=WrapMode.CHAR, new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )

    def paragraph(self, text: str) -> None:
        # Japanese breaks between any two characters; English only between words.
        wrap = WrapMode.WORD if text.isascii() else WrapMode.CHAR
        self.set_font("jp", size=10)
        self.multi_cell(0, 5.5, text, wrapmode=wrap, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _agency_names(ids: Iterable[str]) -> dict[str, Agency]:
    return {a.id: a for a in db.session.scalars(select(Agency).where(Agency.id.in_(set(ids))))}


def package_pdf(notice: Notice) -> bytes:
    """The PDF of a dispatched notice, in Japanese and English."""
    package = package_document(notice)
    document = package["notice"]["document"]
    steps = package["steps"]
    agencies = _agency_names([document["agency"], *(s["document"]["agency"] for s in steps)])
    drafting = agencies[document["agency"]]
    country = document["country"]
    pdf = _NoticePdf(find_font(), f"notice {notice.id} v{notice.version}")
    pdf.set_title(f"Notice {notice.id}")
    pdf.alias_nb_pages()
    pdf.add_page()
    pdf.heading(
        f"{country_name_in('ja', country) or country}政府への申入れ\n"
        f"Notice to the Government of {country_name_in('en', country) or country}",
        size=15,
    )
    pdf.line_of(_both("Drafting agency"), f"{drafting.name_ja} / {drafting.name_en}")
    pdf.line_of(_both("Notice"), f"{notice.id} (v{notice.version})")
    pdf.line_of(_both("Issued at"), document["issued_at"])
    pdf.line_of("SHA-256 (RFC 8785)", package["notice"]["sha256"])

    pdf.heading("申入れ事項 / Request")
    pdf.paragraph(document["request"]["ja"])
    pdf.ln(2)
    pdf.paragraph(document["request"]["en"])

    pdf.heading("対象ブローカー / Brokers concerned")
    for index, broker in enumerate(document["brokers"], start=1):
        pdf.heading(f"{index}. {broker['facts'].get('name', '')}", size=10)
        pdf.line_of(_both("Record reference"), f"broker {broker['id']} v{broker['version']}")
        for name in FACT_FIELDS:
            if broker["facts"].get(name) not in (None, [], ""):
                pdf.line_of(
                    _lazy_both(words.field_label(name)), fact_text(name, broker["facts"][name])
                )

    pdf.heading("署名 / Signatures")
    pdf.line_of(
        "起案 / Drafted",
        f"{drafting.name_ja} / {drafting.name_en} — {document['drafted_by']} — "
        f"{document['issued_at']}",
    )
    pdf.line_of(_both("Key fingerprint"), _kid(package["notice"]["signature"]))
    for signed in steps:
        step = signed["document"]
        agency = agencies[step["agency"]]
        pdf.line_of(
            _lazy_both(STEP_LABELS[step["step"]]),
            f"{agency.name_ja} / {agency.name_en} — {step['by']} — {step['at']}",
        )
        if step.get("reference"):
            pdf.line_of(_both("Reference"), step["reference"])
        if step.get("answer"):
            answer = step["answer"]
            pdf.line_of(_both("Received on"), answer["received_on"])
            pdf.line_of(
                _both("Action reported"),
                _coded(ACTIONS_REPORTED, answer["action_reported"]),
            )
            pdf.paragraph(answer["summary"])
        pdf.line_of(_both("Key fingerprint"), _kid(signed["signature"]))
        pdf.line_of("SHA-256 (RFC 8785)", signed["sha256"])
    pdf.heading("検証 / Verification", size=10)
    pdf.paragraph(
        "各署名は、対応する JSON 文書の RFC 8785 正規化バイト列に対する分離署名 (JWS, RFC 7515 "
        "付録F) です。公開鍵は交換基盤が機関ごとに公開する JWKS で確認できます。"
    )
    pdf.paragraph(
        "Each signature is a detached JWS (RFC 7515 appendix F) over the RFC 8785 bytes of its "
        "JSON document, in the package's JSON file; the public keys are those the exchange "
        "serves for each agency (JWKS). The key fingerprint is the key's RFC 7638 thumbprint."
    )
    return bytes(pdf.output())


def _kid(signature: str) -> str:
    return read_header(signature).kid
