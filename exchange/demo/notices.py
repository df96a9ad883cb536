"""Demo notices abroad: one dispatched by MOFA and answered, one awaiting approval.

Each step is taken as the demo people would take it in the web UI: signed with the
agency's custodial key, checked by the notice service, audited, committed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from exchange.auth.models import User
from exchange.auth.service import user_actor
from exchange.clock import utcnow, uuid7
from exchange.extensions import db
from exchange.notices import documents
from exchange.notices.checks import NoticeContext
from exchange.notices.models import Notice
from exchange.notices.service import draft_notice, take_step
from exchange.records import reading
from exchange.trail.entries import append_entry

# (drafter, approver or None — then the notice stays awaiting approval —, the countries tried
# in turn for brokers the drafter's agency may read, the request in Japanese and English)
DEMO_NOTICES = (
    (
        "liaison.otit",
        "approver.otit",
        ("VN", "PH", "ID", "MM", "CN"),
        "貴国の送出機関である下記の機関が、技能実習生から高額な手数料を徴収し、旅券を保管していた"
        "事実が確認されました。貴国政府におかれては、同機関の認定の取消しを含む厳正な対応を"
        "とられるよう申し入れます。",
        "The sending organisations named below were found to have charged technical intern "
        "trainees excessive fees and to have retained their passports. The Government of "
        "Japan requests that your Government take strict action against them, including "
        "the withdrawal of their licences.",
    ),
    (
        "liaison.isa",
        None,
        ("ID", "PH", "KH", "NP", "VN"),
        "下記の機関が、保証金契約により実習生の失踪を防ぐとして違約金を定めていた事実が確認"
        "されました。貴国政府による調査と是正を申し入れます。",
        "The organisation named below was found to bind trainees by deposit and penalty "
        "contracts. The Government of Japan requests that your Government investigate "
        "and have the practice corrected.",
    ),
)
FIELDS = ("name", "name_original", "name_latin", "category", "allegations", "period", "measures")
MOFA_OFFICER = "liaison.mofa"


def _user(username: str) -> User:
    user: User | None = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise LookupError(f"demo user {username} is missing")
    return user


def _as(username: str, action: str, work: Callable[[NoticeContext], Any]) -> Any:
    """Do ``work`` as ``username`` in the web UI would: one audited transaction."""
    user = _user(username)
    signer = documents.signer_for(user.agency_id)
    received_at = utcnow()
    context = documents.custodial_context(
        NoticeContext(
            actor=user_actor(user, address=None),
            received_at=received_at,
            audit_entry_id=uuid7(),
            clock_skew=timedelta(minutes=5),
        ),
        signer,
    )
    context.details["via"] = "demo"
    result = work(context)
    append_entry(
        entry_id=context.audit_entry_id,
        recorded_at=received_at,
        actor=context.actor,
        action=action,
        status=200,
        targets=context.targets,
        details=context.details,
    )
    db.session.commit()
    return result


def _brokers(username: str, country: str, limit: int) -> list[tuple[str, int | None]]:
    actor = user_actor(_user(username), address=None)
    page = reading.search_records(
        actor=actor, query=reading.SearchQuery(type="broker", country=country, limit=50)
    )
    found: list[tuple[str, int | None]] = []
    for view in page.items:
        record = json.loads(view.version.canonical)
        if record["status"] == "active" and record["payload"].get("country") == country:
            found.append((record["id"], None))
    return found[:limit]


def _step(username: str, notice_id: str, step: str, action: str, **extra: Any) -> None:
    def work(context: NoticeContext) -> None:
        notice = db.session.get(Notice, notice_id)
        assert notice is not None
        signer = documents.signer_for(context.actor.agency_id or "")
        document = documents.step_document(
            notice=notice, step=step, actor=context.actor, at=utcnow(), **extra
        )
        take_step(
            context=context,
            notice_id=notice_id,
            step=step,
            submitted=documents.signed_step(document, signer),
        )

    _as(username, action, work)


def load_demo_notices() -> int:
    """Seed the demo notices once; the number seeded."""
    try:
        return _seed()
    finally:
        # What was only read is let go: the integrator that runs next needs the connection.
        db.session.rollback()


def _seed() -> int:
    agencies = {_user(drafter).agency_id for drafter, *_ in DEMO_NOTICES}
    if db.session.scalar(select(Notice.id).where(Notice.agency_id.in_(agencies)).limit(1)):
        return 0
    seeded = 0
    for drafter, approver, countries, request_ja, request_en in DEMO_NOTICES:
        found = [(c, _brokers(drafter, c, 2)) for c in countries]
        country, chosen = next(((c, b) for c, b in found if b), (None, []))
        if country is None:
            continue

        def work(
            context: NoticeContext,
            chosen: Any = chosen,
            country: str = country,
            request_ja: str = request_ja,
            request_en: str = request_en,
        ) -> str:
            signer = documents.signer_for(context.actor.agency_id or "")
            document = documents.notice_document(
                notice_id=uuid7(),
                version=1,
                actor=context.actor,
                country=country,
                brokers=documents.quoted_brokers(context.actor, chosen, FIELDS),
                request_ja=request_ja,
                request_en=request_en,
                at=utcnow(),
            )
            notice = draft_notice(
                context=context, submitted=documents.signed_notice(document, signer)
            )
            return notice.id

        notice_id = _as(drafter, "notice.draft", work)
        _step(drafter, notice_id, "submission", "notice.submit")
        if approver is not None:
            _step(approver, notice_id, "approval", "notice.approve")
            _step(
                MOFA_OFFICER, notice_id, "dispatch", "notice.dispatch", reference="南東二第1234号"
            )
            _step(
                drafter,
                notice_id,
                "answer",
                "notice.answer",
                answer={
                    "received_on": utcnow().date().isoformat(),
                    "summary": "労働・傷病兵・社会問題省は2機関の調査を開始し、うち1機関の送出"
                    "許可を停止したと回答した。",
                    "action_reported": "licence_suspended",
                    "reference": "MOLISA 45/2026",
                },
            )
        seeded += 1
    return seeded
