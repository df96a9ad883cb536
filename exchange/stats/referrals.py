"""Counting referrals for the periodic statistics: by kind, by the kinds of the sending and
the receiving agencies, by outcome and by the time receivers took to close them.

A referral counts in the month (JST) in which it was issued; its kind and sender once per
referral, its receivers, outcomes and times once per receiving agency. Only counts leave
this module, and they are protected like the record tables before anyone sees them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import aliased

from exchange.agencies.models import AGENCY_KINDS, Agency
from exchange.extensions import db
from exchange.referrals.labels import KIND_LABELS, OUTCOME_LABELS
from exchange.referrals.models import Referral, ReferralReceiver
from exchange.stats.labels import AGENCY_KIND_LABELS
from exchange.stats.report import Report, Row, Table
from exchange.stats.service import Period
from exchange.stats.suppression import protect, shown_total
from schemas.referral import OUTCOMES, REFERRAL_KINDS

# Days from issue to closure, in bands: what a periodic report says of how fast agencies act.
CLOSE_BANDS = (
    ("0-7", 7),
    ("8-30", 30),
    ("31-90", 90),
    ("91+", None),
)
OPEN = "open"

TITLES = {
    "referral_kind": _l("Referrals by kind"),
    "referral_sender_kind": _l("Referrals by kind of sending agency"),
    "referral_receiver_kind": _l("Referrals by kind of receiving agency"),
    "referral_outcome": _l("Referrals by outcome (per receiving agency)"),
    "referral_days_to_close": _l("Days from issue to closure (per receiving agency)"),
}
BAND_LABELS = {
    "0-7": _l("Within 7 days"),
    "8-30": _l("8 to 30 days"),
    "31-90": _l("31 to 90 days"),
    "91+": _l("More than 90 days"),
    OPEN: _l("Not closed yet"),
}


@dataclass(frozen=True)
class ReferralCounts:
    total: int
    by: dict[str, dict[str, int]]


def _band(days: int) -> str:
    for band, limit in CLOSE_BANDS:
        if limit is None or days <= limit:
            return band
    return CLOSE_BANDS[-1][0]


def count_referrals(*, period: Period) -> ReferralCounts:
    sender, receiver = aliased(Agency), aliased(Agency)
    rows = db.session.execute(
        select(
            Referral.pk,
            Referral.kind,
            sender.kind,
            receiver.kind,
            ReferralReceiver.outcome,
            Referral.issued_at,
            ReferralReceiver.closed_at,
        )
        .join(sender, sender.id == Referral.sender_id)
        .join(ReferralReceiver, ReferralReceiver.referral_pk == Referral.pk)
        .join(receiver, receiver.id == ReferralReceiver.agency_id)
        .where(Referral.issued_at >= period.start, Referral.issued_at < period.end)
    ).all()
    by_kind: Counter[str] = Counter()
    by_sender: Counter[str] = Counter()
    by_receiver: Counter[str] = Counter()
    by_outcome: Counter[str] = Counter()
    by_days: Counter[str] = Counter()
    seen: set[int] = set()
    for pk, kind, sender_kind, receiver_kind, outcome, issued_at, closed_at in rows:
        if pk not in seen:
            seen.add(pk)
            by_kind[kind] += 1
            by_sender[sender_kind] += 1
        by_receiver[receiver_kind] += 1
        by_outcome[outcome or OPEN] += 1
        by_days[_band((closed_at - issued_at).days) if closed_at else OPEN] += 1
    return ReferralCounts(
        total=len(seen),
        by={
            "referral_kind": {k: by_kind[k] for k in REFERRAL_KINDS},
            "referral_sender_kind": {k: by_sender[k] for k in AGENCY_KINDS},
            "referral_receiver_kind": {k: by_receiver[k] for k in AGENCY_KINDS},
            "referral_outcome": {k: by_outcome[k] for k in (*OUTCOMES, OPEN)},
            "referral_days_to_close": {k: by_days[k] for k in (*BAND_LABELS,)},
        },
    )


def _label(dimension: str, key: str) -> str:
    if dimension == "referral_kind":
        return str(KIND_LABELS[key])
    if dimension in ("referral_sender_kind", "referral_receiver_kind"):
        return str(AGENCY_KIND_LABELS.get(key, key))
    if dimension == "referral_outcome":
        return str(OUTCOME_LABELS.get(key) or BAND_LABELS[OPEN])
    return str(BAND_LABELS[key])


def build_referral_report(counts: ReferralCounts) -> Report:
    """The referral tables, small counts protected as the record tables' are."""
    tables = []
    for dimension, title in TITLES.items():
        protected = protect(counts.by[dimension])
        if protected is None:
            tables.append(Table(dimension, str(title), (), withheld=True))
            continue
        rows = tuple(Row(key, _label(dimension, key), protected[key]) for key in protected)
        tables.append(Table(dimension, str(title), rows, withheld=False))
    return Report(total=shown_total(counts.total), tables=tuple(tables))
