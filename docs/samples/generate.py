"""Write the sample broker lists the import is shown and tested with: brokers.xlsx and
brokers_sjis.csv (Shift_JIS, as Japanese Windows saves CSV), in Japanese, with three bad rows.

Run from the repository: ``python docs/samples/generate.py``. Every organisation is invented.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

from exchange.demo.vocabulary import DOMESTIC_BROKERS, FOREIGN_BROKER_NAMES
from schemas.identifiers import corporate_number_check_digit

HERE = Path(__file__).resolve().parent
HEADINGS = (
    "管理番号",
    "名称",
    "原語名称",
    "ローマ字名称",
    "区分",
    "国",
    "法人番号",
    "都道府県",
    "制度",
    "申立て",
    "情報源",
    "期間開始",
    "期間終了",
    "評価",
    "概要",
)
# Shift_JIS cannot write Vietnamese, Burmese or Khmer: the CSV leaves the original script out.
SJIS_HEADINGS = tuple(h for h in HEADINGS if h != "原語名称")
PREFECTURE_NAMES = {"08": "茨城県", "10": "群馬県", "11": "埼玉県", "12": "千葉県", "13": "東京都"}
PREFECTURE_NAMES |= {"23": "愛知県", "27": "大阪府", "40": "福岡県"}
CATEGORY_WORDS = {
    "sending_organisation": "送出機関",
    "supervising_organisation": "監理団体",
    "registered_support_organisation": "登録支援機関",
    "employment_agency": "職業紹介事業者",
}
FOREIGN = (
    ("VN", 0, "高額手数料、保証金・違約金契約", "実習生聴取、外国政府", "B2"),
    ("VN", 1, "高額手数料", "実習生聴取", "B2"),
    ("VN", 2, "旅券取上げ、高額手数料", "実習生聴取、実地検査", "A2"),
    ("VN", 4, "書類偽造", "査証審査", "B3"),
    ("CN", 0, "保証金・違約金契約", "機関報告", "B2"),
    ("ID", 0, "高額手数料", "実習生聴取", "C3"),
    ("PH", 0, "不法就労あっせん", "犯罪捜査", "B2"),
    ("MM", 0, "高額手数料、書類偽造", "実習生聴取、外国政府", "B2"),
    ("MM", 1, "高額手数料", "外国政府", "B3"),
    ("NP", 0, "書類偽造", "査証審査", "B2"),
    ("KH", 0, "保証金・違約金契約", "実習生聴取", "B2"),
    ("LK", 0, "高額手数料", "実習生聴取", "C2"),
    ("BD", 0, "書類偽造、不法就労あっせん", "査証審査", "B3"),
    ("UZ", 0, "高額手数料", "機関報告", "B2"),
    ("MN", 0, "旅券取上げ", "実習生聴取", "B2"),
)
COUNTRY_WORDS = {"VN": "ベトナム", "CN": "中国", "ID": "インドネシア", "PH": "フィリピン"}
COUNTRY_WORDS |= {"MM": "ミャンマー", "NP": "ネパール", "KH": "カンボジア", "LK": "スリランカ"}
COUNTRY_WORDS |= {"BD": "バングラデシュ", "UZ": "UZ", "MN": "モンゴル"}


def corporate_number(body: str) -> str:
    return f"{corporate_number_check_digit(body)}{body}"


def rows() -> list[dict[str, str]]:
    result = []
    for number, (country, index, allegations, sources, evaluation) in enumerate(FOREIGN, 1):
        original, latin, katakana = FOREIGN_BROKER_NAMES[country][index]
        result.append(
            {
                "管理番号": f"B-2025-{number:03d}",
                "名称": katakana,
                "原語名称": original,
                "ローマ字名称": latin,
                "区分": "送出機関",
                "国": COUNTRY_WORDS[country],
                "法人番号": "",
                "都道府県": "",
                "制度": "技能実習",
                "申立て": allegations,
                "情報源": sources,
                "期間開始": f"2024/{number % 9 + 1}/1",
                "期間終了": "2025/3/31",
                "評価": evaluation,
                "概要": "技能実習生からの聴取により、来日前に高額な手数料を求めていた疑い。",
            }
        )
    for offset, (name, latin, category, _, prefecture) in enumerate(DOMESTIC_BROKERS[:4]):
        number = len(result) + 1
        result.append(
            {
                "管理番号": f"B-2025-{number:03d}",
                "名称": name,
                "原語名称": "",
                "ローマ字名称": latin,
                "区分": CATEGORY_WORDS[category],
                "国": "日本",
                "法人番号": corporate_number(f"{5050001 + offset * 7919:07d}01234"[:12]),
                "都道府県": PREFECTURE_NAMES[prefecture],
                "制度": "技能実習、特定技能",
                "申立て": "保証金・違約金契約、賃金不払い",
                "情報源": "実地検査",
                "期間開始": "2024-04-01",
                "期間終了": "2025-03-31",
                "評価": "A2",
                "概要": "実地検査で、実習実施者への不適切な指導と保証金の徴収が確認された。",
            }
        )
    # Three bad rows, as a real list has them: a mistyped corporate number (check digit),
    # a country nobody recognises, and a row whose allegation was never filled in.
    result[-1]["法人番号"] = result[-1]["法人番号"][:-1] + str(
        (int(result[-1]["法人番号"][-1]) + 1) % 10
    )
    result[2]["国"] = "ルリタニア"
    result[9]["申立て"] = ""
    return result


def write_xlsx(path: Path, data: list[dict[str, str]]) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "ブローカー一覧"
    sheet.append(list(HEADINGS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in data:
        sheet.append([row[h] for h in HEADINGS])
    workbook.properties.creator = "exchange"
    workbook.save(path)


def write_sjis_csv(path: Path, data: list[dict[str, str]]) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(SJIS_HEADINGS)
    for row in data:
        writer.writerow([row[h] for h in SJIS_HEADINGS])
    path.write_bytes(buffer.getvalue().encode("cp932"))


def main() -> None:
    data = rows()
    write_xlsx(HERE / "brokers.xlsx", data)
    write_sjis_csv(HERE / "brokers_sjis.csv", data)


if __name__ == "__main__":
    main()
