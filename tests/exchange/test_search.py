"""Free-text search: folding, the index rows, and searches through the API on both databases."""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event, text

from exchange.auth.actor import Actor
from exchange.client.sdk import ExchangeClient
from exchange.extensions import db
from exchange.records import reading
from exchange.records.models import Record, RecordGram
from exchange.records.normalize import fold
from exchange.records.reading import SearchQuery, search_records
from exchange.records.textsearch import (
    fts_phrase,
    like_pattern,
    short_grams,
    trigram_text,
    words,
)
from exchange.serving import ExchangeServer
from tests.factories import AgencySystem, World, iso

POSTGRES = bool(os.environ.get("EXCHANGE_TEST_DATABASE_URL"))


class TestFold:
    @pytest.mark.parametrize(
        ("typed", "folded"),
        [
            ("ＣＯＮＧ ＴＹ", "cong ty"),  # full-width ASCII
            ("ｶﾀｶﾅ", "かたかな"),  # half-width katakana
            ("カタカナ", "かたかな"),  # katakana and hiragana match
            ("ｶﾞｲｱ", "がいあ"),  # half-width voiced marks compose, and stay
            ("ヴェトナム", "ゔぇとなむ"),
            ("ヽヾ", "ゝゞ"),
            ("ー・", "ー・"),
            ("Công ty TNHH Nhân lực Hòa Bình", "cong ty tnhh nhan luc hoa binh"),
            ("Đào tạo Phú Thịnh", "dao tao phu thinh"),
            ("Straße", "strasse"),
            ("Øresund Łódź Æsir Œuvre", "oresund lodz aesir oeuvre"),
            ("İstanbul", "istanbul"),
            ("ﬁnance №1", "finance no1"),
            ("  Hòa \t Bình\u3000 ", "hoa binh"),
            ("東京銀行", "東京銀行"),
            ("株式会社ひまわり農園", "株式会社ひまわり農園"),
        ],
    )
    def test_table(self, typed: str, folded: str) -> None:
        assert fold(typed) == folded

    def test_dakuten_and_handakuten_are_never_stripped(self) -> None:
        for voiced, plain in (("ガ", "カ"), ("パ", "ハ"), ("ば", "は"), ("ぽ", "ほ"), ("ｶﾞ", "ｶ")):
            assert fold(voiced) != fold(plain)

    @given(st.text())
    def test_folding_is_idempotent(self, value: str) -> None:
        assert fold(fold(value)) == fold(value)

    @given(st.text())
    def test_folded_text_is_nfc_lower_and_trimmed(self, value: str) -> None:
        folded = fold(value)
        assert unicodedata.normalize("NFC", folded) == folded
        assert folded == folded.strip()
        assert "  " not in folded
        assert not re.search("[\u0300-\u036f\u30a1-\u30f6]", folded)

    @given(st.text(alphabet=st.characters(min_codepoint=0x30A1, max_codepoint=0x30F6)))
    def test_katakana_folds_to_hiragana_and_back_is_the_same_word(self, katakana: str) -> None:
        hiragana = "".join(chr(ord(c) - 0x60) for c in katakana)
        assert fold(katakana) == fold(hiragana)


class TestIndexRows:
    def test_short_grams_are_non_ascii_characters_and_pairs_within_words(self) -> None:
        grams = short_grams("東京銀行 abc\nhoa binh a東")
        assert set(grams) == {"東", "京", "銀", "行", "東京", "京銀", "銀行", "a東"}
        assert short_grams("cong ty tnhh\nmanpower co., ltd.") == []

    def test_trigram_spelling_is_ascii_and_keeps_substrings(self) -> None:
        name = "ほあびん人材有限会社 hoa binh"
        spelt = trigram_text(name)
        assert spelt.isascii() and spelt.endswith(" hoa binh")
        assert len(trigram_text("東京")) == 6
        assert trigram_text("人材") in spelt
        assert trigram_text("%_\\") == "%_\\"

    def test_query_quoting(self) -> None:
        assert words("  ＣＯＮＧ  ty cong ") == ["cong", "ty"]
        assert fts_phrase('a"b NEAR(') == '"a""b NEAR("'
        assert like_pattern("100%_\\") == "%100\\%\\_\\\\%"


@pytest.mark.skipif(not POSTGRES, reason="PostgreSQL only")
class TestPostgresSpelling:
    def test_sql_function_spells_as_python_does(self, app: Flask) -> None:
        samples = ["", "abc", "東京銀行", "ほあびん人材 hoa", "𠮷野家", "ｶﾞ", "é%_\\", "ငွေရောင်"]
        with app.app_context():
            for sample in samples:
                spelt = db.session.scalar(text("SELECT exchange_trigram_text(:t)"), {"t": sample})
                assert spelt == trigram_text(sample), sample

    def test_spelt_japanese_has_trigrams_whatever_the_locale(self) -> None:
        """In a database whose LC_CTYPE is C, pg_trgm finds no trigram in Japanese text, and
        splits accented Latin words; spelt in ASCII, both index fully."""
        import psycopg

        url = os.environ["EXCHANGE_TEST_DATABASE_URL"]
        name = f"exchange_c_locale_{os.getpid()}"
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name}")
            admin.execute(f"CREATE DATABASE {name} TEMPLATE template0 LOCALE 'C' ENCODING 'UTF8'")
            try:
                with psycopg.connect(url.rsplit("/", 1)[0] + f"/{name}") as c_locale:
                    c_locale.execute("CREATE EXTENSION pg_trgm")

                    def trigrams(value: str) -> list[str]:
                        row = c_locale.execute("SELECT show_trgm(%s)", [value]).fetchone()
                        assert row is not None
                        return list(row[0])

                    assert trigrams("東京銀行") == []
                    assert "con" not in trigrams("công")
                    assert len(trigrams(trigram_text("東京銀行"))) >= 10
                    assert "con" in trigrams(trigram_text(fold("công")))
            finally:
                admin.execute(f"DROP DATABASE IF EXISTS {name}")


def _broker(publisher: AgencySystem, name: str, *aliases: str, **changes: Any) -> dict[str, Any]:
    envelope = publisher.envelope("broker")
    payload = dict(envelope["payload"], name=name)
    payload.pop("name_original", None)
    payload.pop("name_latin", None)
    payload["aliases"] = list(aliases)
    if not aliases:
        payload.pop("aliases")
    envelope["payload"] = payload
    envelope.update(changes)
    return envelope


INJECTION_NAME = '100% Pure_Co "Quoted" NEAR(x) *star* back\\slash \'; DROP TABLE record; --'


@pytest.fixture(scope="module")
def named(world: World, server: ExchangeServer) -> tuple[AgencySystem, dict[str, dict[str, Any]]]:
    publisher = world.agency("immigration")
    envelopes = {
        "hoa_binh": _broker(
            publisher, "Công ty TNHH Nhân lực Hòa Bình", "Hoa Binh Manpower", "ホアビン人材有限会社"
        ),
        "bank": _broker(publisher, "東京銀行人材センター"),
        "katakana": _broker(publisher, "カタカナ商事"),
        "gaia": _broker(publisher, "ｶﾞｲｱ交易"),
        "injection": _broker(publisher, INJECTION_NAME),
        "europe": _broker(publisher, "Straße Đồng Øresund Łódź"),
        "amended": _broker(publisher, "名古屋信用金庫サービス"),
        "withdrawn": _broker(publisher, "札幌ユニオン職業紹介"),
    }
    with publisher.client() as exchange:
        exchange.publish_batch(list(envelopes.values()))
    return publisher, envelopes


def _ids(exchange: ExchangeClient, publisher: AgencySystem, q: str, **filters: Any) -> set[str]:
    found = exchange.search(purpose="investigation", publisher=publisher.agency, q=q, **filters)
    return {r.record["id"] for r in found}


class TestSearch:
    @pytest.mark.parametrize(
        ("q", "expected"),
        [
            ("銀", {"bank"}),  # one character
            ("東京", {"bank"}),  # two characters: the gram table
            ("銀行", {"bank"}),
            ("東京銀行", {"bank"}),  # three or more: the trigram index
            ("人材", {"bank", "hoa_binh"}),
            ("かたかな", {"katakana"}),  # kana folding
            ("ｶﾀｶﾅ", {"katakana"}),
            ("ガイア", {"gaia"}),
            ("カイア", set()),  # the voiced mark counts
            ("cong ty", {"hoa_binh"}),
            ("Công ty", {"hoa_binh"}),
            ("ＣＯＮＧ", {"hoa_binh"}),
            ("ty cong", {"hoa_binh"}),  # every word, in any order
            ("binh manpower", {"hoa_binh"}),
            ("binh 銀行", set()),  # every word, not any
            ("ho", {"hoa_binh"}),  # two ASCII characters
            ("strasse", {"europe"}),
            ("STRASSE dong oresund lodz", {"europe"}),
            ("zzzqqq", set()),
        ],
    )
    def test_queries(
        self,
        named: tuple[AgencySystem, dict[str, dict[str, Any]]],
        q: str,
        expected: set[str],
    ) -> None:
        publisher, envelopes = named
        with publisher.client() as exchange:
            assert _ids(exchange, publisher, q) == {envelopes[k]["id"] for k in expected}

    @pytest.mark.parametrize(
        "q",
        [
            "%",
            "_",
            '"',
            "*",
            "NEAR(",
            "NEAR(x)",
            "'; DROP",
            "'; DROP TABLE record; --",
            "\\",
            "back\\slash",
            '"quoted"',
            "pure_co",
            "100%",
            '""',
            "x OR y",
            "star*",
            "-",
            "^",
            "col:umn",
        ],
    )
    def test_injection_matches_literally(
        self, named: tuple[AgencySystem, dict[str, dict[str, Any]]], q: str
    ) -> None:
        publisher, envelopes = named
        with publisher.client() as exchange:
            found = _ids(exchange, publisher, q)
        literal = all(word in fold(INJECTION_NAME) for word in words(q))
        assert found == ({envelopes["injection"]["id"]} if literal else set())

    def test_amended_names_replace_the_old_ones_in_the_index(
        self, named: tuple[AgencySystem, dict[str, dict[str, Any]]]
    ) -> None:
        publisher, envelopes = named
        first = envelopes["amended"]
        amended = dict(first, version=2, issued_at=iso(datetime.now(UTC)))
        amended["payload"] = dict(first["payload"], name="大阪ひかり労務")
        with publisher.client() as exchange:
            assert _ids(exchange, publisher, "名古屋") == {first["id"]}
            exchange.publish(amended)
            for old in ("名古屋", "信用金庫", "名"):
                assert _ids(exchange, publisher, old) == set(), old
            for new in ("大阪", "ひかり", "ヒカリ労務", "阪"):
                assert _ids(exchange, publisher, new) == {first["id"]}, new

    def test_withdrawn_records_stay_searchable(
        self, named: tuple[AgencySystem, dict[str, dict[str, Any]]]
    ) -> None:
        publisher, envelopes = named
        first = envelopes["withdrawn"]
        withdrawn = dict(
            first, version=2, status="withdrawn", reason="誤登録", issued_at=iso(datetime.now(UTC))
        )
        with publisher.client() as exchange:
            exchange.publish(withdrawn)
            assert _ids(exchange, publisher, "札幌") == {first["id"]}
            assert _ids(exchange, publisher, "札幌ユニオン", status="withdrawn") == {first["id"]}
            assert _ids(exchange, publisher, "札幌", status="active") == set()

    def test_policy_applies_to_matches(self, world: World, server: ExchangeServer) -> None:
        police, labour = world.agency("police"), world.agency("labour")
        school = police.envelope("school")
        school["payload"]["school"]["name"] = "函館みなと日本語学院"
        narrowed = _broker(
            police,
            "函館みなと人材",
            handling={**police.envelope("broker")["handling"], "audience": [police.agency]},
        )
        with police.client() as exchange:
            exchange.publish_batch([school, narrowed])
            assert _ids(exchange, police, "函館") == {school["id"], narrowed["id"]}
        with labour.client() as exchange:
            for q in ("函館", "函館みなと", "みなと", "日本語学院"):
                assert _ids(exchange, police, q) == set(), q

    def test_cursor_pages_through_text_matches(
        self, world: World, server: ExchangeServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # On PostgreSQL, trigram matches are read from a window of the newest records,
        # then the index: a small window makes the pages cross it.
        monkeypatch.setattr(reading, "RECENT_WINDOW", 3)
        publisher = world.agency("immigration")
        envelopes = [_broker(publisher, f"釧路漁業人材{n}") for n in range(5)]
        with publisher.client() as exchange:
            exchange.publish_batch(envelopes)
            for q in ("釧路", "釧路漁業", "釧路漁業人材"):
                seen, cursor = [], None
                for _ in range(10):
                    page, cursor = exchange.search_page(
                        purpose="statistics",
                        publisher=publisher.agency,
                        q=q,
                        limit=2,
                        cursor=cursor,
                    )
                    seen += [r.record["id"] for r in page]
                    if cursor is None:
                        break
                assert seen == [e["id"] for e in reversed(envelopes)], q


def _prepared_plans(statement: str, parameters: dict[str, Any]) -> tuple[int, int, str]:
    """generic_plans, custom_plans and EXPLAIN of the server-side prepared ``statement``."""
    driver = db.session.connection().connection.driver_connection
    assert driver is not None
    names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", statement)))
    prepared = driver.execute(
        "SELECT name, generic_plans, custom_plans FROM pg_prepared_statements "
        "WHERE NOT from_sql AND statement = %s",
        [re.sub(r"%\((\w+)\)s", lambda m: f"${names.index(m.group(1)) + 1}", statement)],
    ).fetchone()
    assert prepared is not None, "psycopg did not prepare the search statement"
    from psycopg import sql

    values = sql.SQL(", ").join(sql.Literal(parameters[n]) for n in names)
    plan = driver.execute(
        sql.SQL("EXPLAIN EXECUTE {} ({})").format(sql.Identifier(prepared[0]), values)
    )
    return prepared[1], prepared[2], "\n".join(row[0] for row in plan)


@pytest.fixture(scope="module")
def large_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """An exchange of its own with 20,000 records, enough for the planner to prefer
    indexes to scans. Rows are written straight into ``record`` and ``record_gram``."""
    from tests.isolated import isolated_app, owner_connection

    with isolated_app(tmp_path_factory.mktemp("search")) as fresh, fresh.app_context():
        now = datetime.now(UTC)
        db.session.execute(
            text(
                "INSERT INTO agency (id, kind, name_ja, name_en, created_at) "
                "VALUES ('bulk', 'immigration', '庁', 'agency', :now)"
            ),
            {"now": now},
        )
        records, grams = [], []
        for pk in range(1, 20_001):
            names = "\n".join(
                [
                    "東京人材" if pk % 2 else "大阪建設",
                    "ぐりーん農園" if pk % 500 == 0 else "ほあびん人材",
                    "cong ty tnhh" if pk % 3 else "manpower",
                ]
            )
            records.append(
                {
                    "pk": pk,
                    "id": f"00000000-0000-7000-8000-{pk:012d}",
                    "type": "broker",
                    "publisher": "bulk",
                    "version": 1,
                    "status": "active",
                    "issued_at": now,
                    "first_received_at": now,
                    "updated_at": now,
                    "countries": ",VN,",
                    "names": names,
                    "audience_restricted": False,
                }
            )
            grams += [{"gram": g, "record_pk": pk} for g in short_grams(names)]
        db.session.execute(Record.__table__.insert(), records)
        db.session.execute(RecordGram.__table__.insert(), grams)
        db.session.commit()
        # As autovacuum would, with the owner's rights: rows still in GIN's pending list
        # make the index look costlier to the planner than it will be.
        with owner_connection(fresh) as owner:
            if POSTGRES:
                owner.execute(text("SELECT gin_clean_pending_list('ix_record_trigram_names')"))
            owner.execute(text("ANALYZE"))
        yield fresh


def _text_statements(app: Flask, q: str, times: int) -> list[tuple[str, Any]]:
    """The statements that read the text index, of the last of ``times`` searches for ``q``."""
    actor = Actor(
        kind="system", agency_id="reader", agency_kind="police", agency_lineage=("reader",)
    )
    captured: list[tuple[str, Any]] = []

    def _capture(*arguments: Any) -> None:
        if re.search("record_gram|record_fts|trigram_names", arguments[2]):
            captured.append((arguments[2], arguments[3]))

    event.listen(db.engine, "before_cursor_execute", _capture)
    try:
        for _ in range(times):
            captured.clear()
            search_records(actor=actor, query=SearchQuery(q=q))
    finally:
        event.remove(db.engine, "before_cursor_execute", _capture)
    assert captured
    return captured


@pytest.mark.skipif(not POSTGRES, reason="PostgreSQL only")
@pytest.mark.parametrize(
    ("q", "index"),
    [("東京", "record_gram_pkey"), ("ぐりーん農園", "ix_record_trigram_names")],
)
def test_plan_stays_on_the_index_once_psycopg_prepares_the_search(
    large_store: Flask, q: str, index: str
) -> None:
    with large_store.app_context():
        statements = _text_statements(large_store, q, 12)
        plans = []
        for statement, parameters in statements:
            generic, custom, plan = _prepared_plans(statement, parameters)
            assert generic == 0 and custom > 0, plan
            plans.append(plan)
        db.session.rollback()
    # A trigram search reads the newest records first, then the index for older ones.
    assert index in plans[-1], plans[-1]
    for plan in plans:
        assert "Seq Scan on record " not in plan, plan


def test_search_statement_uses_the_text_index_on_sqlite(large_store: Flask) -> None:
    if POSTGRES:
        pytest.skip("SQLite only")
    for q, index in (("東京", "record_gram"), ("ぐりーん農園", "record_fts")):
        with large_store.app_context():
            [(statement, parameters)] = _text_statements(large_store, q, 1)
            plan = [
                row[3]
                for row in db.session.connection().exec_driver_sql(
                    "EXPLAIN QUERY PLAN " + statement, parameters
                )
            ]
        # The page comes from the index in key order: no sort of all matches.
        assert any(index in step for step in plan), plan
        assert not any("TEMP B-TREE" in step for step in plan), plan


def test_the_migration_refolds_and_indexes_existing_records(tmp_path: Path) -> None:
    from flask_migrate import upgrade

    from exchange import create_app
    from tests.isolated import _engine, _with_search_path

    url = os.environ.get("EXCHANGE_TEST_DATABASE_URL")
    schema = f"t_{os.getpid()}_migration"
    if url:
        with _engine(url).begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = _with_search_path(url, schema)
    else:
        url = f"sqlite:///{tmp_path / 'exchange.db'}"
    app = create_app(
        {
            "TESTING": True,
            "EXCHANGE_INSTANCE_PATH": str(tmp_path),
            "EXCHANGE_DATABASE_URL": url,
            "EXCHANGE_KEY_PASSPHRASE": "test passphrase",
        }
    )
    try:
        with app.app_context():
            directory = app.extensions["migrate"].directory
            upgrade(directory=directory, revision="0003")
            now = datetime.now(UTC)
            db.session.execute(
                text(
                    "INSERT INTO agency (id, kind, name_ja, name_en, created_at) "
                    "VALUES ('old', 'police', '庁', 'agency', :now)"
                ),
                {"now": now},
            )
            # Folded as the exchange folded names before accent and kana folding.
            for pk, names in ((1, "công ty tnhh hòa bình\nホアビン人材"), (2, "東京銀行")):
                db.session.execute(
                    text(
                        "INSERT INTO record (pk, id, type, publisher, version, status, issued_at, "
                        "first_received_at, updated_at, countries, names, audience_restricted) "
                        "VALUES (:pk, :id, 'broker', 'old', 1, 'active', :now, :now, :now, "
                        "',VN,', :names, false)"
                    ),
                    {"pk": pk, "id": f"record-{pk}", "now": now, "names": names},
                )
            db.session.commit()
            upgrade(directory=directory, revision="0004")
            stored = {
                int(pk): str(names)
                for pk, names in db.session.execute(text("SELECT pk, names FROM record"))
            }
            grams = set(db.session.execute(text("SELECT gram, record_pk FROM record_gram")).all())
            if url.startswith("sqlite"):
                trigram = "SELECT rowid FROM record_fts WHERE record_fts MATCH :q"
                found = db.session.scalars(text(trigram), {"q": fts_phrase("hoa binh")}).all()
            else:
                trigram = "SELECT pk FROM record WHERE trigram_names LIKE :q"
                found = db.session.scalars(
                    text(trigram), {"q": like_pattern(trigram_text("ほあびん人材"))}
                ).all()
            db.session.remove()
            db.engine.dispose()
    finally:
        if os.environ.get("EXCHANGE_TEST_DATABASE_URL"):
            with _engine(os.environ["EXCHANGE_TEST_DATABASE_URL"]).begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    assert stored == {1: "cong ty tnhh hoa binh\nほあびん人材", 2: "東京銀行"}
    assert {("東京", 2), ("銀", 2), ("ほあ", 1), ("人材", 1)} <= grams
    assert found == [1]


class TestTags:
    def test_allegation_and_programme_filters_use_the_current_version(
        self, world: World, server: ExchangeServer
    ) -> None:
        publisher = world.agency("otit")
        fees = _broker(publisher, "手数料過大徴収ブローカー")
        fees["payload"] = dict(
            fees["payload"], allegations=["excessive_fees"], programmes=["technical_intern"]
        )
        passports = _broker(publisher, "旅券取上げブローカー")
        passports["payload"] = dict(
            passports["payload"],
            allegations=["passport_retention"],
            programmes=["specified_skilled_worker"],
        )
        with publisher.client() as exchange:
            exchange.publish_batch([fees, passports])
            assert _ids(exchange, publisher, "ブローカー", allegation="excessive_fees") == {
                fees["id"]
            }
            assert _ids(
                exchange, publisher, "ブローカー", programme="specified_skilled_worker"
            ) == {passports["id"]}
            # An amendment that drops the allegation drops the record from the filter.
            amended = dict(fees, version=2, issued_at=iso(datetime.now(UTC)))
            amended["payload"] = dict(fees["payload"], allegations=["document_forgery"])
            exchange.publish(amended)
            assert _ids(exchange, publisher, "ブローカー", allegation="excessive_fees") == set()
            assert _ids(exchange, publisher, "ブローカー", allegation="document_forgery") == {
                fees["id"]
            }

    def test_identifiers_of_the_organisation_are_tags(self, app: Flask, world: World) -> None:
        from exchange.records.tags import record_tags
        from schemas import search_fields

        envelope = world.agency("police").envelope("broker")
        envelope["payload"] = dict(
            envelope["payload"],
            country="VN",
            corporate_number="4011001098993",
            licences=[{"issuer": "DOLAB", "number": "123/LĐTBXH-GPHĐ"}],
        )
        tags = record_tags(envelope, search_fields(envelope))
        assert ("corporate_number", "4011001098993") in tags
        assert ("licence", "VN:123/LĐTBXH-GPHĐ") in tags


def test_the_tag_migration_fills_what_publishing_writes(tmp_path: Path) -> None:
    """Migration 0006 derives, for records stored before it, the tags a publish writes."""
    from tests.exchange.helpers import load_migration
    from tests.isolated import isolated_app

    migration = load_migration("0006_record_tags.py")
    with isolated_app(tmp_path / "instance") as app:
        world = World(app, tmp_path / "bundles")
        publisher = world.agency("otit")
        envelopes = []
        for allegations in (["excessive_fees"], ["passport_retention", "document_forgery"]):
            envelope = _broker(publisher, "タグ移行ブローカー")
            envelope["payload"] = dict(
                envelope["payload"], allegations=allegations, programmes=["student"]
            )
            envelopes.append(envelope)
        response = app.test_client().post(
            "/api/v1/records",
            json={"records": [publisher.submission(e) for e in envelopes]},
            environ_base=publisher.environ(),
        )
        assert response.status_code == 201, response.json
        query = text("SELECT kind, value, record_pk FROM record_tag ORDER BY 1, 2, 3")
        with app.app_context():
            written = db.session.execute(query).all()
            db.session.execute(text("DELETE FROM record_tag"))
            migration._fill(db.session.connection())
            filled = db.session.execute(query).all()
            db.session.rollback()
    assert filled == written
    assert {(kind, value) for kind, value, _ in written} >= {
        ("allegation", "excessive_fees"),
        ("allegation", "document_forgery"),
        ("programme", "student"),
    }
