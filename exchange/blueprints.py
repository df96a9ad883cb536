"""Every blueprint, registered from one list."""

from __future__ import annotations

import functools

from flask import Blueprint, Flask
from flask_smorest import Api
from werkzeug.routing import BaseConverter

from exchange.trail.recorder import audited


class RecordIdConverter(BaseConverter):
    """A record id in a path: matched as any segment, so that the view can answer a
    malformed one as ``record_id_invalid`` (not a bare 404), and documented as what it is."""


def register(app: Flask, api: Api) -> None:
    from exchange.agencies.api import bp as agencies
    from exchange.feeds.api import SUBSCRIPTION_VARIANTS, SubscriptionCreateSchema
    from exchange.feeds.api import bp as subscriptions
    from exchange.notices.api import NoticeSubmissionSchema, StepSubmissionSchema
    from exchange.notices.api import bp as notices
    from exchange.pki.api import bp as keys
    from exchange.pki.api import public_bp as pki
    from exchange.records.api import bp as records
    from exchange.records.schemas import (
        BatchPublishedSchema,
        BatchSubmissionSchema,
        PublishedSchema,
        SubmissionSchema,
    )
    from exchange.referrals.api import bp as referrals
    from exchange.taxii import api as taxii
    from exchange.trail.api import ONE_TERM, CosignatureSubmissionSchema, LookupSchema
    from exchange.trail.api import bp as audit
    from schemas import PAYLOAD_SCHEMAS
    from schemas.identifiers import NIL_UUID, UUID_PATTERN

    app.url_map.converters["record_id"] = RecordIdConverter
    api.register_converter(
        RecordIdConverter,
        lambda converter: {
            "type": "string",
            "format": "uuid",
            "pattern": UUID_PATTERN,
            "not": {"const": NIL_UUID},
        },
    )
    # Registered before the routes that use them, with what their fields alone cannot say.
    api.spec.components.schema(
        "SubscriptionCreate", component=SUBSCRIPTION_VARIANTS, schema=SubscriptionCreateSchema
    )
    api.spec.components.schema("Lookup", component=ONE_TERM, schema=LookupSchema)
    for blueprint in (records, agencies, keys, audit, subscriptions, referrals, notices):
        api.register_blueprint(blueprint)
    app.register_blueprint(pki)
    # TAXII 2.1 has its own description of its interface, not this OpenAPI document.
    app.register_blueprint(taxii.bp)
    taxii.init_app(app)
    for pages in _pages():
        app.register_blueprint(pages)

    api.spec.components.schema("Submission", schema=SubmissionSchema)
    api.spec.components.schema("BatchSubmission", schema=BatchSubmissionSchema)
    api.spec.components.schema("Published", schema=PublishedSchema)
    api.spec.components.schema("BatchPublished", schema=BatchPublishedSchema)
    api.spec.components.schema("CosignatureSubmission", schema=CosignatureSubmissionSchema)
    api.spec.components.schema("NoticeSubmission", schema=NoticeSubmissionSchema)
    api.spec.components.schema("NoticeStepSubmission", schema=StepSubmissionSchema)
    for name, payload_schema in PAYLOAD_SCHEMAS.items():
        component = name.replace("/", "_v").title().replace("_", "") + "Payload"
        api.spec.components.schema(component, schema=payload_schema)

    # flask-smorest serves the OpenAPI document itself; it is audited like any route.
    openapi_view = app.view_functions.get("api-docs.openapi_json")
    if openapi_view is not None:
        app.view_functions["api-docs.openapi_json"] = audited("openapi.read")(
            functools.partial(openapi_view)
        )


def _pages() -> tuple[Blueprint, ...]:
    """The web UI's blueprints, one per domain (exchange.ui)."""
    from exchange.agencies.views import bp as agencies
    from exchange.auth.oidc import bp as oidc
    from exchange.auth.views import bp as auth
    from exchange.feeds.views import bp as subscriptions
    from exchange.imports.views import bp as imports
    from exchange.notices.views import bp as notices
    from exchange.pki.views import bp as pki
    from exchange.records.pages_export import bp as records_export
    from exchange.records.views import bp as records
    from exchange.referrals.views import bp as referrals
    from exchange.retention.pages import bp as retention
    from exchange.stats.views import bp as stats
    from exchange.trail.views import bp as audit

    return (
        auth,
        oidc,
        records,
        records_export,
        imports,
        notices,
        subscriptions,
        audit,
        agencies,
        pki,
        retention,
        stats,
        referrals,
    )
