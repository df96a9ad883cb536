"""The import's validation report: one line per problem, by spreadsheet row and column, told in
Japanese and English, written as CSV that Excel opens as it is (UTF-8 with a BOM)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass

REPORT_HEADINGS = ("行 / row", "列 / column", "値 / value", "問題", "problem")

# The schemas speak English; these are their messages as a liaison officer reads them.
_JAPANESE: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), japanese)
    for pattern, japanese in (
        (r"^Missing data for required field\.$", "必須の項目が空欄です。"),
        (
            r"^Not a valid corporate number",
            "法人番号が正しくありません（13桁、検査用数字を含む）。",
        ),
        (
            r"^Not an officially assigned ISO 3166-1",
            "国が分かりません（国名またはISOの2文字コード）。",
        ),
        (r"^Not a JIS X 0401 prefecture", "都道府県が分かりません。"),
        (r"^Not a JIS X 0402 municipality", "市区町村コードが正しくありません。"),
        (r"^Not a valid date", "日付が正しくありません（例: 2025-04-01）。"),
        (r"^Must be one of: (.*)\.$", r"次のいずれかにしてください: \1。"),
        (r"^Must have between (\d+) and (\d+) items\.$", r"\1～\2個を指定してください。"),
        (r"^Must have at most (\d+) items\.$", r"\1個までにしてください。"),
        (r"^Contains duplicate items\.$", "同じ値が重複しています。"),
        (r"^Not a valid integer\.$", "整数を入力してください。"),
        (r"^Must be greater than or equal to (\d+)", r"\1以上にしてください。"),
        (r"^Length must be between 1 and (\d+)\.$", r"\1文字以内にしてください。"),
        (r"^Required for a broker in Japan\.$", "日本国内の業者には必須です。"),
        (
            r"^Issued only to Japanese entities",
            "法人番号は日本の法人にのみ付番されます（国が日本ではありません）。",
        ),
        (
            r"^JIS codes apply only to addresses in Japan\.$",
            "都道府県コードは国内の所在地にのみ使えます。",
        ),
        (r"^Give a prefecture or the address text\.$", "都道府県か所在地を入力してください。"),
        (r"^Required when (.*)\.$", r"次の場合は必須です: \1。"),
        (r"^Allowed only when (.*)\.$", r"次の場合にのみ入力できます: \1。"),
        (r"^Must not exceed (.*)\.$", r"\1を超えてはいけません。"),
        (r"^Must not be before from\.$", "開始日より前にはできません。"),
        (r"^Must not be blank\.$", "空白だけの値は入力できません。"),
        (r"^Contains a", "制御文字または書式制御文字が含まれています。"),
        (r"^A raw residence card number", "在留カード番号そのものは入力できません。"),
        (
            r"^Not an evaluation",
            "評価は「B2」のように、英字（A/B/C/X）と数字（1～4）で入力してください。",
        ),
        (
            r"^The same record as row (\d+)\.$",
            r"\1行目と同じ記録です（行の識別が重複しています）。",
        ),
        (r"^No column for this field", "この項目の列がありません。"),
    )
)


def japanese_message(english: str) -> str:
    """The Japanese for a problem; one the table does not know is shown as it is."""
    for pattern, japanese in _JAPANESE:
        match = pattern.search(english)
        if match is not None:
            return match.expand(japanese)
    return english


@dataclass(frozen=True)
class Problem:
    row: int
    column: str
    value: str
    message: str

    @property
    def message_ja(self) -> str:
        return japanese_message(self.message)


def report_csv(problems: Iterable[Problem]) -> bytes:
    """The report as CSV, UTF-8 with a BOM so that Excel shows the Japanese as written."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(REPORT_HEADINGS)
    for problem in problems:
        writer.writerow(
            (problem.row, problem.column, problem.value, problem.message_ja, problem.message)
        )
    return buffer.getvalue().encode("utf-8-sig")
