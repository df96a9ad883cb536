"""Demo users of the web UI, one or more per role, with passwords kept in the instance."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from exchange.auth.models import User
from exchange.auth.service import create_user
from exchange.cli.operator import operator_action
from exchange.extensions import db


@dataclass(frozen=True)
class DemoPerson:
    username: str
    display_name: str
    agency: str
    roles: tuple[str, ...]


DEMO_PEOPLE = (
    DemoPerson("liaison.npa", "警察庁 連絡担当 山田 花子", "npa", ("liaison",)),
    DemoPerson("liaison.isa", "入管庁 連絡担当 佐藤 健", "isa", ("liaison",)),
    DemoPerson("liaison.tokyo-lb", "東京労働局 連絡担当 鈴木 一郎", "tokyo-lb", ("liaison",)),
    DemoPerson("liaison.otit", "技能実習機構 連絡担当 伊藤 美咲", "otit", ("liaison",)),
    # The second person a notice abroad needs (four eyes), and MOFA, which dispatches it.
    DemoPerson("approver.otit", "技能実習機構 審査担当 渡辺 隆", "otit", ("approver",)),
    DemoPerson("approver.isa", "入管庁 審査担当 中村 由美", "isa", ("approver",)),
    DemoPerson("liaison.mofa", "外務省 連絡担当 小林 翔", "mofa", ("liaison",)),
    DemoPerson("auditor.isa", "入管庁 監査担当 高橋 直子", "isa", ("auditor",)),
    DemoPerson("admin.isa", "入管庁 システム管理者 田中 誠", "isa", ("admin",)),
)


def load_demo_people(passwords_file: Path) -> list[tuple[DemoPerson, str]]:
    """Create the demo users that do not exist yet; their passwords go to ``passwords_file``.

    Each signs in with the password, then enrols an authenticator app from the QR code.
    """
    existing = set(db.session.scalars(select(User.username)))
    created: list[tuple[DemoPerson, str]] = []
    with operator_action("admin.demo.people") as action:
        for person in DEMO_PEOPLE:
            if person.username in existing:
                continue
            password = secrets.token_urlsafe(12)
            create_user(
                actor=action.actor,
                username=person.username,
                display_name=person.display_name,
                agency_id=person.agency,
                roles=person.roles,
                password=password,
            )
            created.append((person, password))
        action.details["users"] = [person.username for person, _ in created]
    if created:
        lines = "".join(
            f"{person.username}\t{password}\t{','.join(person.roles)}\t{person.agency}\n"
            for person, password in created
        )
        descriptor = os.open(passwords_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
            handle.write(lines)
    return created
