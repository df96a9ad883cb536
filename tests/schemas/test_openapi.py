"""The schemas are also the API's documentation: check what OpenAPI makes of them."""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from schemas import PAYLOAD_SCHEMAS, EnvelopeSchema


def _components() -> dict[str, Any]:
    spec = APISpec("exchange", "1", "3.1.0", plugins=[MarshmallowPlugin()])
    spec.components.schema("Envelope", schema=EnvelopeSchema)
    for name, schema in PAYLOAD_SCHEMAS.items():
        spec.components.schema(name.replace("/", "_v"), schema=schema)
    components: dict[str, Any] = spec.to_dict()["components"]["schemas"]
    return components


class TestOpenAPI:
    def test_envelope_members_are_typed_and_described(self) -> None:
        envelope = _components()["Envelope"]
        properties = envelope["properties"]
        assert envelope["additionalProperties"] is False
        assert properties["id"]["format"] == "uuid"
        assert properties["issued_at"]["format"] == "date-time"
        assert properties["version"]["type"] == "integer"
        assert properties["status"]["enum"] == ["active", "withdrawn"]
        assert all(member.get("description") for member in properties.values())

    def test_payload_schemas_carry_enums_patterns_and_limits(self) -> None:
        components = _components()
        broker = components["broker_v1"]["properties"]
        assert "human_trafficking" in broker["allegations"]["items"]["enum"]
        assert broker["allegations"]["minItems"] == 1
        assert broker["allegations"]["uniqueItems"] is True
        assert broker["name"]["maxLength"] == 300
        assert broker["corporate_number"]["pattern"] == "^[0-9]{13}$"
        assert components["Period"]["properties"].keys() == {"from", "to"}
        assert components["Period"]["properties"]["from"]["format"] == "date"
