"""`flask db upgrade` builds exactly the schema the models describe, and `downgrade base`
removes it."""
import logging
import os
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from app.extensions import db
from app.gateway.catalog.loader import load_catalog
from app.vendors.manager import VendorManager

ROOT = Path(__file__).resolve().parent.parent
APP_TABLES = {"users", "projects", "api_keys", "request_logs"}


def test_migrated_schema_matches_the_models(app):
    # the `app` fixture's database was built by flask_migrate.upgrade() (see conftest)
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_migrated_schema_has_the_report_indexes(app):
    with app.app_context():
        inspector = inspect(db.engine)
        indexes = {tuple(ix["column_names"]) for ix in inspector.get_indexes("request_logs")}
        uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints("api_keys")}
    assert {("api_key_id", "created_at"), ("user_id", "created_at"),
            ("model", "created_at")} <= indexes
    assert ("key_hash",) in uniques


def test_upgrade_and_downgrade_through_the_cli(app, app_factory, tmp_path):
    # `app` is requested first so that the fixture's cleanup runs against the shared database
    path = tmp_path / "m.db"
    url = f"sqlite:///{path}"
    fresh = app_factory(SQLALCHEMY_DATABASE_URI=url)
    runner = fresh.test_cli_runner()
    engine = create_engine(url)
    try:
        result = runner.invoke(args=["db", "upgrade"])
        assert result.exit_code == 0, (result.output, result.exception)
        tables = set(inspect(engine).get_table_names())
        assert tables >= APP_TABLES | {"alembic_version"}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1

        # upgrading again is a no-op, not an error
        result = runner.invoke(args=["db", "upgrade"])
        assert result.exit_code == 0, (result.output, result.exception)

        result = runner.invoke(args=["db", "downgrade", "base"])
        assert result.exit_code == 0, (result.output, result.exception)
        engine.dispose()
        tables = set(inspect(engine).get_table_names())
        assert not tables & APP_TABLES
        if "alembic_version" in tables:
            with engine.connect() as conn:
                count = conn.execute(text("SELECT count(*) FROM alembic_version")).scalar()
            assert count == 0
    finally:
        engine.dispose()
        with fresh.app_context():
            db.engine.dispose()


def test_app_warnings_still_show_after_migrations_ran(app, caplog):
    # Running the migrations in-process (conftest does, so does any script that calls
    # flask_migrate.upgrade()) must not silence the app's own loggers.
    caplog.set_level(logging.WARNING)
    raw = {"providers": {"openai": {"vendor": "openai", "api_keys": ["${UNSET_KEY}"]},
                         "mock": {"vendor": "mock"}},
           "models": [{"name": "mock-echo", "deployments": [{"provider": "mock",
                                                             "model": "echo"}]}]}
    load_catalog(raw, VendorManager.vendors(), env={})
    assert any("openai" in r.getMessage() and r.name == "app.gateway.catalog.loader"
               for r in caplog.records), "the skipped-provider warning was swallowed"


def test_serving_workers_leave_the_db_commands_and_alembic_unloaded(tmp_path):
    """gunicorn.conf.py sets GATEWAY_DB_COMMANDS=0 for its workers; the flask CLI keeps them."""
    probe = ("import sys, wsgi; print('migrate' in wsgi.app.extensions, "
             "any(m.split('.')[0] in ('alembic', 'flask_migrate') for m in sys.modules))")
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'g.db'}", "REDIS_URL": ""}
    served = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                            text=True, env={**env, "GATEWAY_DB_COMMANDS": "0"})
    cli = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True,
                         env=env)
    assert served.stdout.split() == ["False", "False"], served.stderr
    assert cli.stdout.split() == ["True", "True"], cli.stderr
