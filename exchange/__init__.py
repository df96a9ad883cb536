"""The inter-agency information-sharing exchange."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    from exchange import blueprints, cli, guards, models, ui, unit_of_work
    from exchange.config import load_configuration
    from exchange.database import configure_engine, engine_options
    from exchange.extensions import api, db, migrate
    from exchange.ops import access

    instance_path = (test_config or {}).get("EXCHANGE_INSTANCE_PATH") or os.environ.get(
        "EXCHANGE_INSTANCE_PATH"
    )
    app = Flask(__name__, instance_relative_config=True, instance_path=instance_path)
    load_configuration(app, test_config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app.config["SQLALCHEMY_DATABASE_URI"])

    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS))
    with app.app_context():
        configure_engine(db.engine)
    models.register()
    unit_of_work.init_app(app)
    guards.init_app(app)
    api.init_app(app)
    ui.init_app(app)
    blueprints.register(app, api)
    cli.register(app)
    access.init_app(app)
    return app
