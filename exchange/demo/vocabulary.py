"""Names and places the demo records are made of.

All organisations are invented; any likeness to a real one is a coincidence. Individuals
are never named (DESIGN §4): a broker who is a person appears as the channel they use.
"""

from __future__ import annotations

# Broker countries: those with bilateral agreements on trainees and skilled workers, and
# China, weighted roughly as the caseload is (Viet Nam far ahead).
BROKER_COUNTRY_WEIGHTS: dict[str, int] = {
    "VN": 30,
    "CN": 10,
    "ID": 8,
    "PH": 7,
    "MM": 7,
    "NP": 6,
    "KH": 4,
    "LK": 4,
    "BD": 3,
    "UZ": 3,
    "MN": 2,
    "TH": 2,
    "IN": 2,
    "PK": 1,
    "LA": 1,
}

# (original script, latin form, katakana rendering used by Japanese officers)
FOREIGN_BROKER_NAMES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "VN": (
        (
            "Công ty TNHH Nhân lực Hòa Bình",
            "Hoa Binh Manpower Co., Ltd.",
            "ホアビン人材有限会社",
        ),
        (
            "Công ty Cổ phần Xuất khẩu Lao động Sao Việt",
            "Sao Viet Labour Export JSC",
            "サオベト労働輸出株式会社",
        ),
        (
            "Công ty TNHH Đào tạo và Cung ứng Nhân lực Phú Thịnh",
            "Phu Thinh Training and Manpower Supply Co., Ltd.",
            "フーティン人材供給有限会社",
        ),
        ("Trung tâm Du học Ánh Dương", "Anh Duong Study Abroad Centre", "アインズオン留学センター"),
        (
            "Công ty TNHH Thương mại Dịch vụ Minh Phát",
            "Minh Phat Trading and Services Co., Ltd.",
            "ミンファット商事サービス",
        ),
    ),
    "CN": (
        (
            "江苏华东对外劳务合作有限公司",
            "Jiangsu Huadong Overseas Labour Co., Ltd.",
            "コウソカトウ労務",
        ),
        (
            "辽宁远洋人力资源有限公司",
            "Liaoning Yuanyang Human Resources Co., Ltd.",
            "リョウネイエンヨウ人材",
        ),
    ),
    "ID": (("PT Sinar Harapan Tenaga Kerja", "PT Sinar Harapan Tenaga Kerja", "シナルハラパン"),),
    "PH": (
        (
            "Bagong Pag-asa Manpower Services Inc.",
            "Bagong Pag-asa Manpower Services Inc.",
            "バゴンパグアサ・マンパワー",
        ),
    ),
    "MM": (
        (
            "ရွှေပြည် ပြည်ပအလုပ်အကိုင်ရှာဖွေရေး အေဂျင်စီ",
            "Shwe Pyi Overseas Employment Agency",
            "シュエピー海外雇用エージェンシー",
        ),
        ("ငွေရောင်မြစ် အေဂျင်စီ", "Ngwe Yaung Myit Agency", "グエヤウンミッ・エージェンシー"),
    ),
    "NP": (("हिमालय म्यानपावर प्रा. लि.", "Himalaya Manpower Pvt. Ltd.", "ヒマラヤ・マンパワー"),),
    "KH": (
        (
            "ក្រុមហ៊ុន អង្គរ ធនធានមនុស្ស",
            "Angkor Human Resources Co., Ltd.",
            "アンコール人材",
        ),
    ),
    "LK": (("ලංකා රැකියා නියෝජිතායතනය", "Lanka Job Agency", "ランカ・ジョブ・エージェンシー"),),
    "BD": (("বাংলা ওভারসিজ এমপ্লয়মেন্ট", "Bangla Overseas Employment", "バングラ海外雇用"),),
    "UZ": (
        (
            "Samarqand Xalqaro Mehnat MChJ",
            "Samarkand International Labour LLC",
            "サマルカンド国際労働",
        ),
    ),
    "MN": (("Хангай Хүний Нөөц ХХК", "Khangai Human Resources LLC", "ハンガイ人材"),),
    "TH": (("บริษัท สยามแรงงาน จำกัด", "Siam Labour Co., Ltd.", "サイアム・レイバー"),),
    "IN": (("गंगा ओवरसीज़ प्लेसमेंट", "Ganga Overseas Placement", "ガンガ海外職業紹介"),),
    "PK": (("سندھ اوورسیز ایمپلائمنٹ", "Sindh Overseas Employment", "シンド海外雇用"),),
    "LA": (("ບໍລິສັດ ລ້ານຊ້າງ ແຮງງານ", "Lane Xang Labour Co., Ltd.", "ランサーン労働"),),
}

# A broker who is a person is recorded by the channel they recruit through, not by name.
INDIVIDUAL_BROKER_CHANNELS: tuple[tuple[str, str], ...] = (
    ("Nhóm Facebook 「Việc làm Nhật Bản lương cao」", "Facebook group 'High-paying jobs in Japan'"),
    ("Tài khoản Zalo môi giới đơn hàng Nhật", "Zalo account brokering Japan job orders"),
    ("微信群「日本打工互助」", "WeChat group 'Working in Japan mutual aid'"),
)

# (name, latin form, category, licence kind, prefecture)
DOMESTIC_BROKERS: tuple[tuple[str, str, str, str, str], ...] = (
    (
        "協同組合アジア人材交流センター",
        "Asia Jinzai Koryu Center Cooperative",
        "supervising_organisation",
        "supervising_organisation",
        "13",
    ),
    (
        "北関東農業技能実習事業協同組合",
        "Kita-Kanto Agricultural Technical Intern Cooperative",
        "supervising_organisation",
        "supervising_organisation",
        "08",
    ),
    (
        "東海グローバル人材協同組合",
        "Tokai Global Jinzai Cooperative",
        "supervising_organisation",
        "supervising_organisation",
        "23",
    ),
    (
        "株式会社みらいサポート",
        "Mirai Support Co., Ltd.",
        "registered_support_organisation",
        "registered_support",
        "11",
    ),
    (
        "株式会社ワークブリッジ・ジャパン",
        "Work Bridge Japan Co., Ltd.",
        "employment_agency",
        "employment_agency",
        "13",
    ),
)

# Municipalities (JIS X 0402 without the check digit) of the prefectures where the demo
# caseload sits.
MUNICIPALITIES: dict[str, tuple[tuple[str, str], ...]] = {
    "08": (
        ("08201", "水戸市"),
        ("08203", "土浦市"),
        ("08220", "つくば市"),
        ("08232", "神栖市"),
        ("08234", "鉾田市"),
    ),
    "10": (("10201", "前橋市"), ("10202", "高崎市"), ("10204", "伊勢崎市"), ("10205", "太田市")),
    "11": (("11100", "さいたま市"), ("11202", "熊谷市"), ("11203", "川口市"), ("11218", "深谷市")),
    "12": (
        ("12100", "千葉市"),
        ("12202", "銚子市"),
        ("12204", "船橋市"),
        ("12211", "成田市"),
        ("12215", "旭市"),
    ),
    "13": (("13104", "新宿区"), ("13116", "豊島区"), ("13121", "足立区"), ("13111", "大田区")),
    "23": (
        ("23100", "名古屋市"),
        ("23201", "豊橋市"),
        ("23202", "岡崎市"),
        ("23211", "豊田市"),
        ("23212", "安城市"),
    ),
    "27": (("27100", "大阪市"),),
    "40": (("40130", "福岡市"),),
}

# Illegal employment: Ibaraki, Chiba, Gunma, Saitama and Aichi carry most cases.
EMPLOYMENT_PREFECTURE_WEIGHTS: dict[str, int] = {
    "08": 32,
    "12": 17,
    "10": 14,
    "11": 14,
    "23": 15,
    "13": 4,
}
INDUSTRY_WEIGHTS: dict[str, int] = {
    "agriculture": 34,
    "construction": 15,
    "manufacturing": 15,
    "food_service": 7,
    "logistics": 6,
    "cleaning": 5,
    "fishery": 4,
    "hospitality": 3,
    "retail": 3,
    "nursing_care": 2,
    "other": 6,
}
# Employer name patterns by industry; {place} is the municipality's name without 市 or 区.
EMPLOYER_PATTERNS: dict[str, tuple[str, ...]] = {
    "agriculture": (
        "株式会社{place}グリーン農園",
        "有限会社{place}ファーム",
        "{place}農産株式会社",
    ),
    "construction": ("{place}建設株式会社", "株式会社{place}工務店", "有限会社{place}解体工業"),
    "manufacturing": ("株式会社{place}製作所", "{place}精工株式会社", "株式会社{place}プレス工業"),
    "food_service": ("株式会社{place}フーズ", "有限会社{place}食堂"),
    "logistics": ("{place}運輸株式会社", "株式会社{place}ロジスティクス"),
    "cleaning": ("株式会社{place}ビルメンテナンス",),
    "fishery": ("有限会社{place}水産",),
    "hospitality": ("株式会社{place}観光ホテル",),
    "retail": ("株式会社{place}マート",),
    "nursing_care": ("社会福祉法人{place}福祉会",),
    "other": ("株式会社{place}サービス",),
}
# Nationalities of illegally employed workers: Viet Nam the largest.
WORKER_NATIONALITY_WEIGHTS: dict[str, int] = {
    "VN": 45,
    "TH": 10,
    "ID": 8,
    "CN": 8,
    "PH": 7,
    "KH": 6,
    "MM": 5,
    "LK": 4,
    "NP": 4,
    "BD": 3,
}
# (name, latin form, prefecture, municipality without check digit)
SCHOOLS: tuple[tuple[str, str, str, str], ...] = (
    ("東京国際日本語学院", "Tokyo International Japanese Language Institute", "13", "13104"),
    ("池袋グローバル日本語学校", "Ikebukuro Global Japanese Language School", "13", "13116"),
    ("足立さくら日本語アカデミー", "Adachi Sakura Japanese Language Academy", "13", "13121"),
    ("なにわ国際日本語学院", "Naniwa International Japanese Language Institute", "27", "27100"),
    ("博多ことば日本語学校", "Hakata Kotoba Japanese Language School", "40", "40130"),
    ("水戸みらい日本語学院", "Mito Mirai Japanese Language Institute", "08", "08201"),
    ("川口アジア日本語学校", "Kawaguchi Asia Japanese Language School", "11", "11203"),
)
STUDENT_NATIONALITY_WEIGHTS: dict[str, int] = {
    "VN": 30,
    "NP": 25,
    "CN": 12,
    "MM": 10,
    "LK": 8,
    "BD": 6,
    "UZ": 5,
    "MN": 4,
}
# Where prefectural police forces that are not in the directory would be named.
PREFECTURAL_POLICE: dict[str, str] = {
    "13": "mpd",
    "08": "ibaraki-pp",
    "27": "osaka-pp",
    "40": "fukuoka-pp",
    "11": "saitama-pp",
}
ADVERT_PLATFORMS: tuple[tuple[str, str], ...] = (
    ("Facebook", "https://www.facebook.com/groups/"),
    ("X", "https://x.com/"),
    ("Zalo", "https://zalo.me/g/"),
    ("求人掲示板", "https://jobs.example.jp/posts/"),
)
