from __future__ import annotations

from schemas import SearchFields, search_fields, validate_envelope
from tests.schemas import examples


class TestSearchFields:
    def test_broker(self) -> None:
        envelope = validate_envelope(examples.broker())
        assert search_fields(envelope) == SearchFields(
            names=(
                "Hoa Binh Manpower Co., Ltd.",
                "Công ty TNHH Nhân lực Hòa Bình",
                "Cong ty TNHH Nhan luc Hoa Binh",
                "ホアビン人材",
                "HBM",
            ),
            countries=("VN",),
            prefecture=None,
            category="sending_organisation",
            corporate_numbers=(),
            licences=("123/LĐTBXH-GP",),
        )

    def test_domestic_broker(self) -> None:
        fields = search_fields(validate_envelope(examples.domestic_broker()))
        assert fields.prefecture == "13"
        assert fields.corporate_numbers == ("4011001098993",)
        assert fields.licences == ("許1713000123",)
        assert fields.countries == ("JP",)

    def test_school_arrest(self) -> None:
        assert search_fields(validate_envelope(examples.school_arrest())) == SearchFields(
            names=("東京国際日本語学院", "Tokyo International Japanese Language Institute"),
            countries=("VN",),
            prefecture="13",
            category="arrested_student",
            corporate_numbers=("2120901007402",),
            licences=(),
            card_tokens=(examples.TOKEN,),
        )

    def test_school_visa_screening(self) -> None:
        fields = search_fields(validate_envelope(examples.school_visa_screening()))
        assert fields.names == ("なにわ国際日本語学院",)
        assert fields.countries == ("NP",)
        assert fields.category == "visa_screening_nonconformity"
        assert fields.corporate_numbers == ()

    def test_illegal_employment(self) -> None:
        assert search_fields(validate_envelope(examples.illegal_employment())) == SearchFields(
            names=("株式会社鉾田グリーン農園", "Hoa Binh Manpower", "SNS上の仕事紹介グループ"),
            countries=("VN", "TH"),
            prefecture="08",
            category="agriculture",
            corporate_numbers=("7123456789012",),
            licences=(),
            card_tokens=(examples.TOKEN, examples.OTHER_TOKEN),
        )

    def test_repeated_names_are_indexed_once(self) -> None:
        envelope = examples.broker()
        envelope["payload"]["name_latin"] = envelope["payload"]["name"]
        fields = search_fields(validate_envelope(envelope))
        assert fields.names.count("Hoa Binh Manpower Co., Ltd.") == 1
