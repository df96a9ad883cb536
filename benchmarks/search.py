"""Free-text search at scale: the API over mutual TLS beside the bare SQL, in one run.

A store of its own (same database kind as the run) is filled by bulk SQL with N records
whose names are drawn from the demo vocabulary (``exchange.demo.vocabulary``) and
recombined, so that names spread as a caseload's do: Japanese employers and brokers
(kanji, kana), Vietnamese companies with diacritics beside their Latin and katakana forms,
and the other countries' brokers in their own scripts. Then, for each kind of query —
two-character Japanese (東京, 人材 …), longer Japanese, Latin with and without
diacritics, and free text with filters —

- **API**: ``GET /api/v1/records?q=…&limit=50`` with ``Exchange-Purpose``, serially
  (concurrency 1: latency, not throughput), by an agency that did not publish them;
- **bare**: the very statement the search runs for the same query (captured from the
  exchange's own code), executed straight on the database connection and fetched.

The server runs without its in-process integrator: the bulk-filled backlog of audit
entries would otherwise be integrated while latencies are measured.
"""

from __future__ import annotations

import dataclasses
import http.client
import random
import re
import ssl
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import pyotp
from sqlalchemy import event

from benchmarks.fill import Template, fill_store
from benchmarks.instance import Instance, create_instance, drop_instance, populate
from benchmarks.load import Request
from benchmarks.servers import exchange_server
from exchange.auth.actor import Actor, operator_actor
from exchange.auth.service import begin_enrolment, create_user
from exchange.clock import utcnow
from exchange.demo import vocabulary as vocab
from exchange.extensions import db
from exchange.records.reading import SearchQuery, search_records
from exchange.records.textsearch import folded_names

if TYPE_CHECKING:
    from benchmarks.harness import Bench, Row

PURPOSE = "investigation"
PAGE = 50
TARGET_MS = {"sqlite": 50.0, "postgresql": 100.0}

# Place and brand words Japanese company names are made of, beside the demo's
# municipalities.
_JA_PLACES = (
    "東京", "大阪", "横浜", "名古屋", "札幌", "仙台", "広島", "京都", "神戸", "福岡",
    "北九州", "川崎", "新潟", "静岡", "浜松", "岡山", "熊本", "鹿児島", "那覇", "金沢",
    "富山", "長野", "岐阜", "四日市", "宇都宮", "郡山", "いわき", "八戸", "秋田", "山形",
)  # fmt: skip
_JA_BRANDS = (
    "", "中央", "第一", "日本", "東洋", "アジア", "みらい", "さくら", "ひかり", "グローバル",
    "太平洋", "北関東", "南", "新", "ユニオン", "あおば", "やまと", "ライフ", "ワールド", "協和",
)  # fmt: skip
_JA_BROKER_PATTERNS = (
    "協同組合{place}{brand}人材交流センター",
    "{place}{brand}技能実習事業協同組合",
    "株式会社{place}{brand}人材サポート",
    "株式会社{brand}{place}ワークブリッジ",
    "{place}{brand}職業紹介株式会社",
)
# Vietnamese syllables with the katakana Japanese officers write them in.
_VN_SYLLABLES = (
    ("Hòa", "ホア"), ("Bình", "ビン"), ("Phú", "フー"), ("Thịnh", "ティン"), ("Minh", "ミン"),
    ("Phát", "ファット"), ("Sao", "サオ"), ("Việt", "ベト"), ("Ánh", "アイン"),
    ("Dương", "ズオン"), ("Hưng", "フン"), ("Thành", "タイン"), ("Đức", "ドゥック"),
    ("Long", "ロン"), ("An", "アン"), ("Khang", "カン"), ("Thủy", "トゥイ"), ("Hải", "ハイ"),
    ("Quang", "クアン"), ("Trung", "チュン"), ("Tiến", "ティエン"), ("Nam", "ナム"),
    ("Hồng", "ホン"), ("Lạc", "ラック"), ("Tâm", "タム"), ("Đông", "ドン"), ("Vinh", "ビン"),
    ("Thắng", "タン"), ("Nghĩa", "ギア"), ("Lộc", "ロック"), ("Kim", "キム"), ("Sơn", "ソン"),
)  # fmt: skip
# (Vietnamese, English, katakana) kinds of company.
_VN_KINDS = (
    ("Công ty TNHH Nhân lực", "Manpower Co., Ltd.", "人材有限会社"),
    ("Công ty Cổ phần Xuất khẩu Lao động", "Labour Export JSC", "労働輸出株式会社"),
    ("Công ty TNHH Đào tạo và Cung ứng Nhân lực", "Training and Manpower Supply Co., Ltd.",
     "人材供給有限会社"),
    ("Trung tâm Du học", "Study Abroad Centre", "留学センター"),
    ("Công ty TNHH Thương mại Dịch vụ", "Trading and Services Co., Ltd.", "商事サービス"),
    ("Công ty Cổ phần Phát triển Nguồn nhân lực", "Human Resources Development JSC",
     "人材開発株式会社"),
)  # fmt: skip
_PLACES = (
    tuple(
        town.removesuffix("市").removesuffix("区")
        for towns in vocab.MUNICIPALITIES.values()
        for _, town in towns
    )
    + _JA_PLACES
)


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _unaccented(text: str) -> str:
    from exchange.records.normalize import fold

    return " ".join(word.capitalize() for word in fold(text).split())


class NameMaker:
    """Names for filled records, by their template's type and country; reproducible."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def _employer(self) -> str:
        pattern = self.rng.choice(self.rng.choice(list(vocab.EMPLOYER_PATTERNS.values())))
        return pattern.format(place=self.rng.choice(_PLACES) + self.rng.choice(_JA_BRANDS))

    def _domestic_broker(self) -> str:
        return self.rng.choice(_JA_BROKER_PATTERNS).format(
            place=self.rng.choice(_PLACES), brand=self.rng.choice(_JA_BRANDS)
        )

    def _vietnamese(self) -> list[str]:
        first, second = self.rng.sample(_VN_SYLLABLES, 2)
        kind, english, katakana = self.rng.choice(_VN_KINDS)
        given = f"{first[0]} {second[0]}"
        return [
            f"{kind} {given}",
            f"{_unaccented(given)} {english}",
            first[1] + second[1] + katakana,
        ]

    def _foreign(self, country: str) -> list[str]:
        original, latin, katakana = self.rng.choice(vocab.FOREIGN_BROKER_NAMES[country])
        region = self.rng.choice(_VN_SYLLABLES)
        return [original, f"{latin} ({_unaccented(region[0])} branch)", katakana]

    def names(self, index: int, template: Template) -> str:
        """The folded ``record.names`` of the index-th filled record."""
        countries = [c for c in template.countries.split(",") if c]
        if template.record_type == "broker":
            country = countries[0] if countries else "JP"
            if country == "VN":
                return folded_names(self._vietnamese())
            if country in vocab.FOREIGN_BROKER_NAMES:
                return folded_names(self._foreign(country))
            return folded_names([self._domestic_broker()])
        names = [self._employer()]
        if self.rng.random() < 0.3:
            names += self._vietnamese()[:1]
        return folded_names(names)


@dataclass(frozen=True)
class QueryKind:
    label: str
    queries: tuple[dict[str, str], ...]


QUERY_KINDS = (
    QueryKind(
        "2-char Japanese",
        tuple({"q": q} for q in ("東京", "人材", "農園", "建設", "水産", "観光", "札幌", "金沢")),
    ),
    QueryKind(
        "3+ char Japanese",
        tuple(
            {"q": q}
            for q in (
                "グリーン農園",
                "ホアビン",
                "製作所",
                "ロジスティクス",
                "人材交流センター",
                "みらい",
            )
        ),
    ),
    QueryKind(
        "Latin ± diacritics",
        tuple(
            {"q": q}
            for q in (
                "cong ty",
                "Hòa Bình",
                "hoa binh",
                "Đào tạo",
                "manpower",
                "ＣＯＮＧ ＴＹ",
                "khang thuy",
                "samarkand",
            )
        ),
    ),
    QueryKind(
        "with filters",
        (
            {"q": "cong ty", "type": "broker", "country": "VN"},
            {"q": "農園", "type": "illegal_employment"},
            {"q": "東京", "type": "broker"},
            {"q": "nhan luc", "type": "broker", "country": "VN"},
            {"q": "製作所", "prefecture": "08"},
            {"q": "ホアビン", "type": "broker", "status": "active"},
        ),
    ),
)


def _cycle(kind: QueryKind, count: int) -> Iterator[dict[str, str]]:
    for index in range(count):
        yield kind.queries[index % len(kind.queries)]


def _path(parameters: dict[str, str]) -> str:
    return f"/api/v1/records?{urlencode({**parameters, 'limit': PAGE})}"


def _page_path(parameters: dict[str, str]) -> str:
    return f"/search?{urlencode({'purpose': PURPOSE, **parameters})}"


_COOKIE = re.compile(r"(__Host-exchange=[^;]+)")
_CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def _signed_in_cookie(instance: Instance, port: int) -> str:
    """A liaison officer of the reading agency, signed in with password and TOTP over TLS."""
    caller = instance.callers["bench-npa"]
    username, password = "bench.liaison", "a long benchmark passphrase"
    app = instance.app()
    with app.app_context():
        user = create_user(
            actor=operator_actor("benchmark"),
            username=username,
            display_name="Benchmark liaison",
            agency_id=caller.agency,
            roles=("liaison",),
            password=password,
        )
        secret = begin_enrolment(user).secret
        user.totp_enrolled_at = utcnow()
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    context = ssl.create_default_context(cafile=str(caller.ca))
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)
    cookie = ""

    def call(method: str, path: str, form: dict[str, str] | None = None) -> str:
        nonlocal cookie
        headers = {"Accept": "text/html", "Cookie": cookie}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"https://127.0.0.1:{port}{path}"
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        text = response.read().decode()
        found = _COOKIE.search(response.getheader("Set-Cookie") or "")
        if found:
            cookie = found.group(1)
        return text

    def token(page: str) -> str:
        found = _CSRF.search(page)
        assert found, "no CSRF token on the sign-in page"
        return found.group(1)

    page = call("GET", "/login")
    call("POST", "/login", {"csrf_token": token(page), "username": username, "password": password})
    page = call("GET", "/login/code")
    call("POST", "/login/code", {"csrf_token": token(page), "code": pyotp.TOTP(secret).now()})
    connection.close()
    return cookie


def _reader_actor(instance: Instance) -> Actor:
    caller = instance.callers["bench-npa"]
    return Actor(
        kind="system",
        agency_id=caller.agency,
        agency_kind=caller.kind,
        system_name="gateway",
        agency_lineage=(caller.agency,),
    )


Statements = list[tuple[str, Any]]


def _captured_statements(
    instance: Instance, kinds: tuple[QueryKind, ...]
) -> dict[str, list[tuple[Statements, int]]]:
    """For each query: the statements the search sends for it, in order, with their
    parameters, and how many rows the exchange returned for it."""
    app = instance.app()
    actor = _reader_actor(instance)
    captured: dict[str, list[tuple[Statements, int]]] = {}
    with app.app_context():
        seen: Statements = []

        def _capture(*arguments: Any) -> None:
            # The search's own statements, not the unit of work's transaction control.
            statement, parameters = arguments[2], arguments[3]
            if not statement.lstrip().upper().startswith(("SET", "BEGIN")):
                seen.append((statement, parameters))

        event.listen(db.engine, "before_cursor_execute", _capture)
        for kind in kinds:
            for parameters in kind.queries:
                query = SearchQuery(
                    q=parameters["q"],
                    type=parameters.get("type"),
                    country=parameters.get("country"),
                    prefecture=parameters.get("prefecture"),
                    status=parameters.get("status"),
                    limit=PAGE,
                )
                # Once to warm the caches (the policy is read once), once to capture.
                search_records(actor=actor, query=query)
                db.session.rollback()
                seen.clear()
                page = search_records(actor=actor, query=query)
                db.session.rollback()
                captured.setdefault(kind.label, []).append((list(seen), len(page.items)))
        event.remove(db.engine, "before_cursor_execute", _capture)
        db.session.remove()
        db.engine.dispose()
    return captured


def _bare_latencies(
    instance: Instance, searches: list[tuple[Statements, int]], count: int
) -> list[float]:
    """Each search's statements on a raw connection of the exchange's engine, fetched."""
    app = instance.app()
    latencies = []
    with app.app_context():
        raw = db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            if instance.dialect == "postgresql":
                # As the search sets it for its transaction (exchange.records.reading).
                cursor.execute("SET plan_cache_mode = force_custom_plan")
            for index in range(count):
                statements, _ = searches[index % len(searches)]
                started = time.perf_counter()
                for statement, parameters in statements:
                    cursor.execute(statement, parameters)
                    cursor.fetchall()
                latencies.append(time.perf_counter() - started)
            cursor.close()
            raw.rollback()
        finally:
            raw.close()
        db.engine.dispose()
    return latencies


def _fill(bench: Bench, count: int) -> Instance:
    instance = create_instance(bench.root / "instance-search", bench.options.database_url)
    populate(instance)
    _progress(f"  filling {count:,} records with generated names by bulk SQL ...")
    filled = fill_store(
        instance,
        instance.callers["bench-isa"],
        count,
        names=NameMaker(bench.options.seed).names,
    )
    _progress(f"  filled in {filled.seconds:.1f} s ({filled.rate:,.0f} records/s)")
    return instance


def measure_search(bench: Bench) -> list[Row]:
    from benchmarks.harness import Row

    count = bench.options.search_records
    requests_per_kind = 10 if bench.options.quick else 300
    instance = _fill(bench, count)
    try:
        statements = _captured_statements(instance, QUERY_KINDS)
        for kind in QUERY_KINDS:
            found = [rows for _, rows in statements[kind.label]]
            _progress(f"  {kind.label}: results per query {found}")
        headers = (("Exchange-Purpose", PURPOSE),)
        rows: list[Row] = []
        target = TARGET_MS[instance.dialect]
        with exchange_server(
            instance,
            threads=bench.options.threads,
            environment={"EXCHANGE_INTEGRATOR": "off", "EXCHANGE_PUSH": "off"},
        ) as server:
            assert server.ui_port is not None
            page_headers = (
                ("Accept", "text/html"),
                ("Cookie", _signed_in_cookie(instance, server.ui_port)),
            )
            for kind in QUERY_KINDS:
                requests = [
                    Request("GET", _path(p), None, headers) for p in _cycle(kind, requests_per_kind)
                ]
                warmup = [Request("GET", _path(p), None, headers) for p in kind.queries]
                result = bench.load(
                    f"search {kind.label}",
                    server,
                    requests,
                    warmup,
                    caller=instance.callers["bench-npa"],
                    expected=200,
                    concurrency=1,
                )
                bare = _bare_latencies(instance, statements[kind.label], requests_per_kind)
                p50, p95 = result.percentile(0.5) * 1e3, result.percentile(0.95) * 1e3
                bare50, bare95 = _percentile(bare, 0.5) * 1e3, _percentile(bare, 0.95) * 1e3
                page_result = bench.load(
                    f"search page {kind.label}",
                    dataclasses.replace(server, port=server.ui_port or server.port),
                    [
                        Request("GET", _page_path(p), None, page_headers)
                        for p in _cycle(kind, requests_per_kind)
                    ],
                    [Request("GET", _page_path(p), None, page_headers) for p in kind.queries],
                    caller=instance.callers["bench-npa"],
                    expected=200,
                    concurrency=1,
                )
                page50 = page_result.percentile(0.5) * 1e3
                page95 = page_result.percentile(0.95) * 1e3
                rows.append(
                    Row(
                        "search",
                        "  the same on the search page (TLS, signed in, purpose first)",
                        f"p95 {page95:.1f} ms",
                        f"p95 {bare95:.2f} ms bare SQL",
                        page95 / bare95 if bare95 > 0 else None,
                        f"{page50:.1f}/{page95:.1f}",
                        f"{bare50:.2f}/{bare95:.2f}",
                        f"p95 < {target:.0f} ms",
                        page95 < target,
                    )
                )
                rows.insert(
                    len(rows) - 1,
                    Row(
                        "search",
                        f"{kind.label}, {count:,} records, {PAGE}/page, mTLS c=1",
                        f"p95 {p95:.1f} ms",
                        f"p95 {bare95:.2f} ms bare SQL",
                        p95 / bare95 if bare95 > 0 else None,
                        f"{p50:.1f}/{p95:.1f}",
                        f"{bare50:.2f}/{bare95:.2f}",
                        f"p95 < {target:.0f} ms",
                        p95 < target,
                    ),
                )
    finally:
        drop_instance(instance)
    return rows
