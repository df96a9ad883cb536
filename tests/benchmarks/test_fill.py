"""A filled record has every row its publish through the API would have written."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import Select, select

from benchmarks.fill import fill_store
from benchmarks.instance import create_instance, populate
from exchange.extensions import db
from exchange.records.models import (
    Record,
    RecordAudience,
    RecordCard,
    RecordGram,
    RecordTag,
    RecordVersion,
)
from exchange.records.tags import record_tags
from exchange.records.textsearch import folded_names, short_grams
from exchange.trail.models import AuditEntry
from schemas import search_fields

FILLED = 300


def _by_record(statement: Select[*tuple[Any, ...]]) -> dict[int, set[Any]]:
    """Each record's values: the rows' columns after the record key, one or a tuple."""
    grouped: dict[int, set[Any]] = defaultdict(set)
    for record_pk, *values in db.session.execute(statement):
        grouped[record_pk].add(values[0] if len(values) == 1 else tuple(values))
    return grouped


def test_a_filled_record_has_the_rows_of_a_published_one(tmp_path: Path) -> None:
    instance = create_instance(tmp_path / "instance", None)
    populate(instance)
    filled = fill_store(instance, instance.callers["bench-isa"], FILLED)
    assert filled.store_records == FILLED
    app = instance.app()
    with app.app_context():
        session = db.session
        versions = session.execute(
            select(Record, RecordVersion).join(RecordVersion, RecordVersion.record_pk == Record.pk)
        ).all()
        audiences = _by_record(select(RecordAudience.record_pk, RecordAudience.agency_id))
        cards = _by_record(select(RecordCard.record_pk, RecordCard.token))
        grams = _by_record(select(RecordGram.record_pk, RecordGram.gram))
        tags = _by_record(select(RecordTag.record_pk, RecordTag.kind, RecordTag.value))
        entries = set(session.scalars(select(AuditEntry.id)).all())
        assert len(versions) == FILLED
        for record, version in versions:
            envelope = json.loads(version.canonical)
            facts = search_fields(envelope)
            assert envelope["id"] == record.id
            assert record.names == folded_names(facts.names)
            assert audiences.get(record.pk, set()) == set(envelope["handling"]["audience"] or ())
            assert cards.get(record.pk, set()) == set(facts.card_tokens)
            assert tags.get(record.pk, set()) == set(record_tags(envelope, facts))
            assert grams.get(record.pk, set()) == set(short_grams(record.names))
            assert version.audit_entry_id in entries
        assert any(audiences.values()) and any(tags.values()) and any(grams.values())
        db.session.remove()
        db.engine.dispose()
