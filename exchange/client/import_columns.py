"""The headings a spreadsheet may use for each record type's fields, in Japanese and English,
and the Japanese words for the codes the records hold (区分「送出機関」→ sending_organisation).

A column's ``path`` is a dotted path in the payload; paths starting with ``@`` are the
envelope's (evaluation, legal basis, retention) or the row key (``@id``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

# How a cell becomes a value: text, a list of texts, one code, a list of codes, ...
KINDS = (
    "text",
    "texts",
    "choice",
    "choices",
    "country",
    "prefecture",
    "count",
    "date",
    "corporate_number",
    "nationalities",
    "evaluation",
)


@dataclass(frozen=True)
class Column:
    path: str
    kind: str
    headings: tuple[str, ...]
    labels: Mapping[str, str] = field(default_factory=dict)


def heading_key(text: str) -> str:
    """Headings compare without width, case, spaces, underscores or hyphens: 「法人 番号」,
    "Corporate_Number" and "corporate number" are one heading."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if ch not in " _-\u3000・")


# Names agencies write for countries besides CLDR's Japanese ones (ミャンマー (ビルマ),
# アメリカ合衆国) and the English short names; ISO codes are read as well.
JAPANESE_COUNTRY_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "ミャンマー": "MM",
        "ビルマ": "MM",
        "中華人民共和国": "CN",
        "大韓民国": "KR",
        "米国": "US",
        "アメリカ": "US",
        "英国": "GB",
    }
)

_ID = Column("@id", "text", ("管理番号", "id", "整理番号", "row id", "key"))
_EVALUATION = Column("@evaluation", "evaluation", ("評価", "evaluation"))
_LEGAL_BASIS = Column("@legal_basis", "texts", ("法的根拠", "legal basis", "legal_basis"))
_RETENTION = Column("@retention_until", "date", ("保存期限", "retention until", "retention"))
_PERIOD_FROM = ("期間開始", "period from", "from")
_PERIOD_TO = ("期間終了", "period to", "to")

BROKER_COLUMNS = (
    _ID,
    Column("name", "text", ("名称", "name", "業者名", "ブローカー名")),
    Column("name_original", "text", ("原語名称", "name original", "現地語名称", "原語表記")),
    Column("name_latin", "text", ("ローマ字名称", "name latin", "英字名称", "latin name")),
    Column("aliases", "texts", ("別名", "aliases", "alias")),
    Column(
        "category",
        "choice",
        ("区分", "category", "種別"),
        {
            "送出機関": "sending_organisation",
            "監理団体": "supervising_organisation",
            "登録支援機関": "registered_support_organisation",
            "職業紹介事業者": "employment_agency",
            "個人ブローカー": "individual_broker",
            "個人": "individual_broker",
            "その他": "other",
        },
    ),
    Column("country", "country", ("国", "country", "国名", "所在国")),
    Column("corporate_number", "corporate_number", ("法人番号", "corporate number")),
    Column("address.prefecture", "prefecture", ("都道府県", "prefecture")),
    Column("address.municipality", "text", ("市区町村コード", "municipality")),
    Column("address.text", "text", ("所在地", "address", "住所")),
    Column(
        "programmes",
        "choices",
        ("制度", "programmes", "programme"),
        {"技能実習": "technical_intern", "特定技能": "specified_skilled_worker", "留学": "student"},
    ),
    Column(
        "allegations",
        "choices",
        ("申立て", "allegations", "申立", "疑い", "違反内容"),
        {
            "高額手数料": "excessive_fees",
            "手数料": "excessive_fees",
            "保証金・違約金契約": "deposit_or_penalty_contract",
            "保証金": "deposit_or_penalty_contract",
            "違約金": "deposit_or_penalty_contract",
            "旅券取上げ": "passport_retention",
            "旅券取り上げ": "passport_retention",
            "書類偽造": "document_forgery",
            "不法就労あっせん": "illegal_work_brokering",
            "人身取引": "human_trafficking",
            "賃金不払い": "wage_violation",
            "賃金違反": "wage_violation",
            "その他": "other",
        },
    ),
    Column(
        "sources",
        "choices",
        ("情報源", "sources", "source"),
        {
            "実習生聴取": "trainee_hearing",
            "技能実習生からの聴取": "trainee_hearing",
            "機関報告": "organisation_report",
            "実地検査": "onsite_inspection",
            "外国政府": "foreign_government",
            "犯罪捜査": "criminal_investigation",
            "査証審査": "visa_screening",
        },
    ),
    Column("period.from", "date", _PERIOD_FROM),
    Column("period.to", "date", _PERIOD_TO),
    Column("narrative", "text", ("概要", "narrative", "備考")),
    _EVALUATION,
    _LEGAL_BASIS,
    _RETENTION,
)

SCHOOL_COLUMNS = (
    _ID,
    Column("school.name", "text", ("学校名", "school name", "school")),
    Column("school.name_latin", "text", ("学校名ローマ字", "school name latin")),
    Column(
        "school.operator_corporate_number",
        "corporate_number",
        ("設置者法人番号", "operator corporate number", "法人番号", "corporate number"),
    ),
    Column("school.prefecture", "prefecture", ("都道府県", "prefecture")),
    Column("school.municipality", "text", ("市区町村コード", "municipality")),
    Column(
        "school.status",
        "choice",
        ("学校区分", "school status", "status"),
        {"告示校": "kokuji", "認定日本語教育機関": "mext_certified", "不明": "unknown"},
    ),
    Column(
        "finding",
        "choice",
        ("事案", "finding"),
        {"逮捕": "arrested_student", "査証審査不適合": "visa_screening_nonconformity"},
    ),
    Column("arrest.nationality", "country", ("国籍", "nationality")),
    Column("arrest.arrest_date", "date", ("逮捕日", "arrest date")),
    Column(
        "arrest.offence_category",
        "choice",
        ("罪種", "offence category", "offence"),
        {
            "窃盗": "theft",
            "詐欺": "fraud",
            "薬物": "drugs",
            "不法就労": "illegal_work",
            "入管法違反": "immigration_violation",
            "暴力": "violence",
            "その他": "other",
        },
    ),
    Column("arrest.arresting_agency", "text", ("逮捕機関", "arresting agency")),
    Column("arrest.case_reference", "text", ("事件番号", "case reference")),
    Column("visa_screening.consulate_country", "country", ("在外公館の国", "consulate country")),
    Column("visa_screening.period.from", "date", ("審査期間開始", "screening from")),
    Column("visa_screening.period.to", "date", ("審査期間終了", "screening to")),
    Column("visa_screening.applicants_screened", "count", ("審査数", "applicants screened")),
    Column("visa_screening.nonconforming", "count", ("不適合数", "nonconforming")),
    Column(
        "visa_screening.reasons",
        "choices",
        ("不適合理由", "reasons"),
        {
            "偽造書類": "forged_documents",
            "経費支弁能力": "financial_evidence_doubtful",
            "日本語能力": "language_ability_doubtful",
            "過去の違反": "prior_violations",
            "その他": "other",
        },
    ),
    _EVALUATION,
    _LEGAL_BASIS,
    _RETENTION,
)

ILLEGAL_EMPLOYMENT_COLUMNS = (
    _ID,
    Column("employer.name", "text", ("事業者名", "employer", "employer name", "名称")),
    Column("employer.corporate_number", "corporate_number", ("法人番号", "corporate number")),
    Column("employer.prefecture", "prefecture", ("都道府県", "prefecture")),
    Column("employer.municipality", "text", ("市区町村コード", "municipality")),
    Column(
        "employer.industry",
        "choice",
        ("業種", "industry"),
        {
            "農業": "agriculture",
            "建設業": "construction",
            "製造業": "manufacturing",
            "飲食業": "food_service",
            "小売業": "retail",
            "宿泊業": "hospitality",
            "清掃業": "cleaning",
            "運輸業": "logistics",
            "漁業": "fishery",
            "介護": "nursing_care",
            "その他": "other",
        },
    ),
    Column("workers.count", "count", ("就労者数", "workers")),
    Column("workers.nationalities", "nationalities", ("国籍別人数", "nationalities")),
    Column(
        "workers.residence_statuses",
        "choices",
        ("在留資格", "residence statuses"),
        {
            "技能実習": "technical_intern_training",
            "特定技能": "specified_skilled_worker",
            "技術・人文知識・国際業務": "engineer_humanities_international",
            "留学": "student",
            "特定活動": "designated_activities",
            "家族滞在": "dependent",
            "短期滞在": "temporary_visitor",
            "なし": "none",
        },
    ),
    Column("workers.overstay_count", "count", ("不法残留者数", "overstay count")),
    Column(
        "workers.unauthorised_activity_count",
        "count",
        ("資格外活動者数", "unauthorised activity count"),
    ),
    Column(
        "offences",
        "choices",
        ("違反", "offences"),
        {
            "不法就労助長（雇用）": "facilitation_employing",
            "不法就労助長（支配下）": "facilitation_control",
            "不法就労助長（あっせん）": "facilitation_brokering",
            "不法就労": "illegal_work",
            "在留カード偽造": "forged_residence_card",
            "労働法違反": "labour_law_violation",
        },
    ),
    Column("forged_cards.count", "count", ("偽造在留カード枚数", "forged cards")),
    Column(
        "detection",
        "choice",
        ("端緒", "detection", "発覚の端緒"),
        {
            "立入検査": "inspection",
            "通報": "tip",
            "ネット広告": "online_advert",
            "合同摘発": "joint_operation",
            "逮捕": "arrest",
            "届出不一致": "notification_mismatch",
        },
    ),
    Column("detected_on", "date", ("発覚日", "detected on")),
    Column("period.from", "date", _PERIOD_FROM),
    Column("period.to", "date", _PERIOD_TO),
    _EVALUATION,
    _LEGAL_BASIS,
    _RETENTION,
)

COLUMNS: Mapping[str, tuple[Column, ...]] = MappingProxyType(
    {
        "broker": BROKER_COLUMNS,
        "school": SCHOOL_COLUMNS,
        "illegal_employment": ILLEGAL_EMPLOYMENT_COLUMNS,
    }
)

# The comprehensive measures under which each type is shared (DESIGN §4), the legal basis
# a row gets when the sheet names none.
DEFAULT_LEGAL_BASIS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "broker": ("measure:146", "measure:147"),
        "school": ("measure:197",),
        "illegal_employment": ("measure:210",),
    }
)

# What makes a row the same record when the sheet has no id column: the first of these
# whose fields are all filled. A broker is its corporate number when it has one; a school
# or an employer may come up in many cases, so their case's own facts are part of the key.
NATURAL_KEYS: Mapping[str, tuple[tuple[str, ...], ...]] = MappingProxyType(
    {
        "broker": (("corporate_number",), ("name", "country")),
        "school": (
            (
                "school.name",
                "school.prefecture",
                "finding",
                "arrest.case_reference",
                "visa_screening.consulate_country",
                "visa_screening.period.from",
            ),
        ),
        "illegal_employment": (("employer.name", "employer.prefecture", "detected_on"),),
    }
)
