"""Imports every domain's models, so that metadata and Alembic see all tables."""

from __future__ import annotations


def register() -> None:
    from exchange.agencies import models as agencies  # noqa: F401
    from exchange.auth import models as auth  # noqa: F401
    from exchange.feeds import models as feeds  # noqa: F401
    from exchange.imports import models as imports  # noqa: F401
    from exchange.notices import models as notices  # noqa: F401
    from exchange.pki import models as pki  # noqa: F401
    from exchange.records import models as records  # noqa: F401
    from exchange.referrals import models as referrals  # noqa: F401
    from exchange.retention import models as retention  # noqa: F401
    from exchange.taxii import models as taxii  # noqa: F401
    from exchange.trail import models as trail  # noqa: F401
