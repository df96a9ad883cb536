"""flask-smorest's Blueprint, documenting header parameters beside the query arguments.

flask-smorest merges ``doc(parameters=[...])`` into an operation by replacing the list that
``arguments()`` documented, so a route with both a query schema and a documented header
lost its query parameters from the OpenAPI document. Here the two lists are joined.
"""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint as SmorestBlueprint


class Blueprint(SmorestBlueprint):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._prepare_doc_cbks.append(self._join_documented_parameters)

    @staticmethod
    def _join_documented_parameters(
        doc: dict[str, Any], doc_info: dict[str, Any], **kwargs: Any
    ) -> dict[str, Any]:
        manual = doc_info.get("manual_doc", {})
        extra = manual.pop("parameters", None)
        if extra:
            doc["parameters"] = [*doc.get("parameters", []), *extra]
        return doc
