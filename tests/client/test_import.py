"""``exchange client import``: encodings, .xlsx, mapping files, the report, re-runs, batches."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from openpyxl import Workbook

from exchange.cli import main
from exchange.client.import_publish import Limits, split_batches
from exchange.client.importer import load_mapping, plan_import, record_id_for
from exchange.client.tables import read_table
from exchange.serving import ExchangeServer
from exchange.textfiles import UnreadableFile
from tests.exchange.helpers import configured
from tests.factories import AgencySystem, World

SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "samples"
HEADINGS = ["管理番号", "名称", "ローマ字名称", "区分", "国", "制度", "申立て", "情報源", "評価"]
ROWS = [
    [
        *("A-1", "ホアビン人材有限会社", "Hoa Binh Manpower", "送出機関", "ベトナム"),
        *("技能実習", "高額手数料、旅券取上げ", "実習生聴取", "B2"),
    ],
    [
        *("A-2", "シナルハラパン", "PT Sinar Harapan", "送出機関", "ID", "特定技能"),
        *("保証金・違約金契約", "外国政府", "B3"),
    ],
    [
        *("A-3", "ヒマラヤ・マンパワー", "Himalaya Manpower", "送出機関", "ネパール"),
        *("留学", "書類偽造", "査証審査", "C2"),
    ],
]


def csv_text(rows: list[list[str]], headings: list[str] = HEADINGS) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(headings)
    writer.writerows(rows)
    return buffer.getvalue()


def run_import(publisher: AgencySystem, *arguments: str) -> Result:
    return CliRunner().invoke(
        main,
        [
            "client",
            "--url",
            publisher.world.served_at(),
            "--bundle",
            str(publisher.bundle_dir),
            "import",
            *arguments,
        ],
    )


def published_versions(publisher: AgencySystem) -> dict[str, int]:
    with publisher.client() as exchange:
        return {
            item.record["id"]: item.record["version"]
            for item in exchange.search(purpose="investigation", publisher=publisher.agency)
        }


@pytest.fixture()
def small_batches(app: Flask) -> Iterator[None]:
    with configured(app, EXCHANGE_MAX_BATCH=2):
        yield


class TestReading:
    @pytest.mark.parametrize(
        ("encoding", "reported"),
        [("utf-8", "UTF-8"), ("utf-8-sig", "UTF-8 (BOM)"), ("cp932", "Shift_JIS (cp932)")],
    )
    def test_each_encoding_is_detected_and_reported(
        self, world: World, tmp_path: Path, encoding: str, reported: str
    ) -> None:
        publisher = world.agency("immigration")
        path = tmp_path / "brokers.csv"
        path.write_bytes(csv_text(ROWS).encode(encoding))
        result = run_import(publisher, str(path), "--dry-run")
        assert result.exit_code == 0, result.output
        assert f"{path}: {reported}, broker, 3 rows" in result.output
        assert "dry run: 3 rows valid" in result.output

    def test_utf16_is_refused_in_one_sentence(self, world: World, tmp_path: Path) -> None:
        path = tmp_path / "brokers.csv"
        path.write_bytes(codecs.BOM_UTF16_LE + csv_text(ROWS).encode("utf-16-le"))
        result = run_import(world.agency("immigration"), str(path), "--dry-run")
        assert result.exit_code == 1
        assert "UTF-16" in result.output and "Traceback" not in result.output

    def test_cells_become_codes(self) -> None:
        table = read_table(csv_text(ROWS).encode("cp932"), name="brokers.csv")
        plan = plan_import(table, publisher="isa")
        payload = plan.rows[0].payload
        assert payload["country"] == "VN" and payload["category"] == "sending_organisation"
        assert payload["allegations"] == ["excessive_fees", "passport_retention"]
        assert plan.rows[0].envelope["evaluation"] == {"source": "B", "information": "2"}
        assert plan.rows[2].payload["country"] == "NP"

    def test_row_identity_is_the_id_column_else_the_natural_key(self) -> None:
        with_id = plan_import(read_table(csv_text(ROWS).encode(), name="a.csv"), publisher="isa")
        assert with_id.rows[0].record_id == record_id_for(
            publisher="isa", record_type="broker", key="id:a-1"
        )
        headings = HEADINGS[1:]
        without = plan_import(
            read_table(csv_text([r[1:] for r in ROWS], headings).encode(), name="b.csv"),
            publisher="isa",
        )
        renamed = [[r[1] + "\u3000", *r[2:]] for r in ROWS]
        spaced = plan_import(
            read_table(csv_text(renamed, headings).encode(), name="c.csv"), publisher="isa"
        )
        # Widths and spaces do not make another record.
        assert [r.record_id for r in without.rows] == [r.record_id for r in spaced.rows]


class TestOtherTypes:
    def test_an_employer_sheet_reads_counts_nationalities_and_offences(self) -> None:
        headings = ["事業者名", "法人番号", "都道府県", "業種", "就労者数", "国籍別人数"]
        headings += ["在留資格", "不法残留者数", "資格外活動者数", "違反", "端緒", "発覚日", "評価"]
        row = [
            "有限会社つくば農園",
            "4011001098993",
            "茨城県",
            "農業",
            "7",
            "ベトナム:5、カンボジア:2",
        ]
        row += [
            "技能実習、なし",
            "3",
            "2",
            "不法就労助長（雇用）、不法就労",
            "立入検査",
            "2025/6/3",
        ]
        table = read_table(csv_text([[*row, "A2"]], headings).encode("cp932"), name="ie.csv")
        plan = plan_import(table, publisher="ibaraki-pp")
        assert plan.record_type == "illegal_employment" and plan.problems == []
        payload = plan.rows[0].payload
        assert payload["employer"]["prefecture"] == "08"
        assert payload["workers"]["nationalities"] == [
            {"country": "VN", "count": 5},
            {"country": "KH", "count": 2},
        ]
        assert payload["offences"] == ["facilitation_employing", "illegal_work"]
        assert payload["detected_on"] == "2025-06-03"

    def test_a_school_sheet_fills_only_the_finding_it_names(self) -> None:
        headings = ["学校名", "都道府県", "学校区分", "事案", "国籍", "逮捕日", "罪種"]
        headings += ["逮捕機関", "事件番号", "審査数", "評価"]
        row = ["東京国際日本語学院", "東京都", "告示校", "逮捕", "ネパール", "2025-05-01", "窃盗"]
        row += ["tokyo-mpd", "R7-123", "", "B2"]
        plan = plan_import(
            read_table(csv_text([row], headings).encode(), name="s.csv"), publisher="npa"
        )
        assert plan.problems == []
        assert "visa_screening" not in plan.rows[0].payload
        assert plan.rows[0].payload["arrest"]["nationality"] == "NP"

    def test_a_json_mapping_file_and_its_mistakes(self, tmp_path: Path) -> None:
        good = tmp_path / "map.json"
        good.write_text('{"type": "broker", "columns": {"業者": "name"}, "key": "番号"}')
        mapping = load_mapping(good)
        assert mapping.columns == {"業者": "name"} and mapping.key == "番号"
        bad = tmp_path / "bad.json"
        bad.write_text('{"type": "broker", "colums": {}}')
        with pytest.raises(UnreadableFile, match="unknown settings: colums"):
            load_mapping(bad)


class TestReport:
    @pytest.mark.parametrize("sample", ["brokers_sjis.csv", "brokers.xlsx"])
    def test_sample_bad_rows_are_reported_by_row_and_column_in_both_languages(
        self, world: World, tmp_path: Path, sample: str
    ) -> None:
        report = tmp_path / "report.csv"
        result = run_import(
            world.agency("immigration"), str(SAMPLES / sample), "--dry-run", "--report", str(report)
        )
        assert result.exit_code == 1
        assert "3 of 19 rows have problems; nothing was published" in result.output
        data = report.read_bytes()
        assert data.startswith(codecs.BOM_UTF8)
        lines = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
        assert lines[0] == ["行 / row", "列 / column", "値 / value", "問題", "problem"]
        problems = {(row, column): (value, ja, en) for row, column, value, ja, en in lines[1:]}
        assert set(problems) == {("4", "国"), ("11", "申立て"), ("20", "法人番号")}
        value, ja, en = problems[("4", "国")]
        assert value == "ルリタニア" and "国が分かりません" in ja and "ISO 3166-1" in en
        assert problems[("11", "申立て")][1:] == (
            "必須の項目が空欄です。",
            "Missing data for required field.",
        )
        assert "check digit" in problems[("20", "法人番号")][2]
        assert "法人番号が正しくありません" in problems[("20", "法人番号")][1]
        if sample.endswith(".csv"):
            assert "Shift_JIS (cp932)" in result.output

    def test_bad_rows_publish_nothing(
        self, world: World, server: ExchangeServer, tmp_path: Path
    ) -> None:
        publisher = world.agency("immigration")
        rows = [
            *ROWS,
            ["A-4", "不明業者", "", "送出機関", "アトランティス", "技能実習", "", "", "B2"],
        ]
        path = tmp_path / "brokers.csv"
        path.write_text(csv_text(rows))
        result = run_import(publisher, str(path))
        assert result.exit_code == 1
        assert "row 5, 国 「アトランティス」" in result.output
        assert "row 5, 申立て" in result.output
        assert published_versions(publisher) == {}


class TestPublishing:
    def test_rerun_publishes_nothing_twice_and_a_changed_row_is_a_new_version(
        self, world: World, server: ExchangeServer, tmp_path: Path
    ) -> None:
        publisher = world.agency("immigration")
        path = tmp_path / "brokers.csv"
        path.write_bytes(csv_text(ROWS).encode("cp932"))
        result = run_import(publisher, str(path))
        assert result.exit_code == 0, result.output
        assert "published: 3 new, 0 amended, 0 unchanged" in result.output
        first = published_versions(publisher)
        assert sorted(first.values()) == [1, 1, 1]

        result = run_import(publisher, str(path))
        assert result.exit_code == 0, result.output
        assert "published: 0 new, 0 amended, 3 unchanged" in result.output
        assert published_versions(publisher) == first

        changed = [list(row) for row in ROWS]
        changed[1][6] = "保証金・違約金契約、高額手数料"
        path.write_bytes(csv_text(changed).encode("cp932"))
        result = run_import(publisher, str(path))
        assert result.exit_code == 0, result.output
        assert "published: 0 new, 1 amended, 2 unchanged" in result.output
        versions = published_versions(publisher)
        amended = record_id_for(publisher=publisher.agency, record_type="broker", key="id:a-2")
        assert versions[amended] == 2
        with publisher.client() as exchange:
            current = exchange.get(amended, purpose="investigation")
        assert current.record["payload"]["allegations"] == [
            "deposit_or_penalty_contract",
            "excessive_fees",
        ]

    def test_xlsx_is_published(self, world: World, server: ExchangeServer, tmp_path: Path) -> None:
        publisher = world.agency("police")
        workbook = Workbook()
        sheet = workbook.active
        assert sheet is not None
        sheet.append(["name", "country", "category", "programmes", "allegations", "sources"])
        sheet.append(["Lanka Job Agency", "LK", "sending_organisation", "technical_intern"])
        sheet.cell(row=2, column=5, value="excessive_fees; other")
        sheet.cell(row=2, column=6, value="trainee_hearing")
        sheet.append(["北関東協同組合", "日本", "監理団体", "技能実習", "賃金不払い", "実地検査"])
        sheet.cell(row=3, column=7, value=4011001098993)
        sheet.cell(row=3, column=8, value=8)
        sheet.cell(row=1, column=7, value="法人番号")
        sheet.cell(row=1, column=8, value="都道府県")
        sheet.cell(row=1, column=9, value="評価")
        sheet.cell(row=2, column=9, value="B2")
        sheet.cell(row=3, column=9, value="A1")
        path = tmp_path / "list.xlsx"
        workbook.save(path)
        result = run_import(publisher, str(path))
        assert result.exit_code == 0, result.output
        assert "xlsx, broker, 2 rows" in result.output
        assert "published: 2 new" in result.output
        key = "corporate_number:4011001098993"
        record_id = record_id_for(publisher=publisher.agency, record_type="broker", key=key)
        with publisher.client() as exchange:
            payload = exchange.get(record_id, purpose="investigation").record["payload"]
        assert payload["address"] == {"prefecture": "08"}
        assert payload["corporate_number"] == "4011001098993"

    def test_mapping_file_reads_an_unusual_layout(
        self, world: World, server: ExchangeServer, tmp_path: Path
    ) -> None:
        publisher = world.agency("labour")
        (tmp_path / "map.toml").write_text(
            'type = "broker"\nkey = "社内ID"\nheader_row = 2\n'
            "[columns]\n"
            '"業者名称" = "name"\n"所在国コード" = "country"\n"違反類型" = "allegations"\n'
            '"入手経路" = "sources"\n"対象制度" = "programmes"\n"業態" = "category"\n'
            "[labels.allegations]\n"
            '"ピンはね" = "excessive_fees"\n'
            "[defaults]\n"
            'evaluation = "C3"\nlegal_basis = ["measure:146"]\n',
            encoding="utf-8",
        )
        headings = [
            "社内ID",
            "業者名称",
            "所在国コード",
            "業態",
            "対象制度",
            "違反類型",
            "入手経路",
        ]
        body = csv_text(
            [["X9", "ガンガ海外職業紹介", "IN", "送出機関", "技能実習", "ピンはね", "機関報告"]],
            headings,
        )
        path = tmp_path / "odd.csv"
        path.write_text("令和7年度 ブローカー情報\n" + body, encoding="utf-8-sig")
        result = run_import(publisher, str(path), "--mapping", str(tmp_path / "map.toml"))
        assert result.exit_code == 0, result.output
        record_id = record_id_for(publisher=publisher.agency, record_type="broker", key="id:x9")
        with publisher.client() as exchange:
            record = exchange.get(record_id, purpose="investigation").record
        assert record["payload"]["allegations"] == ["excessive_fees"]
        assert record["evaluation"] == {"source": "C", "information": "3"}
        assert record["handling"]["legal_basis"] == ["measure:146"]

    def test_a_file_larger_than_the_batch_limit_is_split(
        self, world: World, server: ExchangeServer, tmp_path: Path, small_batches: None
    ) -> None:
        publisher = world.agency("immigration")
        rows = [
            [f"S-{n}", f"人材会社{n}", "", "送出機関", "VN", "技能実習", "高額手数料"]
            for n in range(5)
        ]
        path = tmp_path / "many.csv"
        path.write_text(csv_text([[*r, "実習生聴取", "B2"] for r in rows]))
        result = run_import(publisher, str(path))
        assert result.exit_code == 0, result.output
        assert "published: 5 new, 0 amended, 0 unchanged, 0 withdrawn left alone; 3 batches" in (
            result.output
        )
        assert len(published_versions(publisher)) == 5


class TestBatches:
    def test_batches_respect_the_body_limit_too(self) -> None:
        envelopes = [{"id": str(n), "payload": {"narrative": "x" * 1000}} for n in range(10)]
        batches = list(split_batches(envelopes, Limits(max_batch=100, max_body_bytes=4000)))
        assert [len(b) for b in batches] == [2, 2, 2, 2, 2]
        assert [e for b in batches for e in b] == envelopes
