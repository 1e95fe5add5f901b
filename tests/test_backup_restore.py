"""The README's backup and restore (## Backups and retention): `pg_dump -Fc` of a database the
gateway wrote, `pg_restore` into a fresh database, and a gateway on the copy: its keys still
authenticate, revoked ones stay revoked, its usage reports are unchanged and new requests are
logged after the old ones. Needs the PostgreSQL client tools (.ci/run installs them)."""
import os
import re
import shutil
import subprocess
from datetime import timedelta
from decimal import Decimal

import psycopg2
import pytest
from sqlalchemy.engine import make_url

from app.extensions import db
from app.models import utcnow
from app.repositories import keys as key_repo
from app.repositories import projects as project_repo
from app.repositories import request_logs
from app.repositories import users as user_repo
from tests.conftest import DATABASE_URL, log_row, logged, make_app

pytestmark = [pytest.mark.postgres, pytest.mark.skipif(
    not DATABASE_URL.startswith("postgresql"), reason="pg_dump backs up PostgreSQL")]

GROUPS = ("key", "user", "project", "model", "day")


def _major(text):
    return int(re.search(r"(\d+)(?:\.\d+)?", text).group(1))


def _tool(name):
    path = shutil.which(name)
    assert path, f"{name} is not on PATH: install the PostgreSQL client (postgresql-client)"
    return path


def _server_major(url):
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SHOW server_version")
        return _major(cur.fetchone()[0])


def _admin(url, sql):
    conn = psycopg2.connect(make_url(url).set(database="postgres").render_as_string(False))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql)
    conn.close()


def _auth(secret):
    return {"Authorization": f"Bearer {secret}"}


def _chat(client, secret):
    return client.post("/v1/chat/completions", headers=_auth(secret), json={
        "model": "mock-echo", "messages": [{"role": "user", "content": "backup me"}]})


def _reports(client, secret):
    out = {}
    for group in GROUPS:
        # Fixed bounds: the two reports are taken a few seconds apart.
        response = client.get("/admin/usage", headers=_auth(secret), query_string={
            "group_by": group, "since": (utcnow() - timedelta(days=60)).date().isoformat(),
            "until": (utcnow() + timedelta(days=1)).date().isoformat()})
        assert response.status_code == 200, response.get_data(as_text=True)
        out[group] = response.get_json()
    return out


@pytest.fixture
def world(app, client):
    """An admin, a member with a key in a project, a revoked key, requests made through the
    gateway and older rows written by insert_batch."""
    with app.app_context():
        admin = user_repo.create("root@example.com", role="admin")
        _, admin_secret = key_repo.create(admin, name="admin")
        member = user_repo.create("dev@example.com")
        project = project_repo.create("apollo", owner_id=member.id)
        key, secret = key_repo.create(member, name="dev", project_id=project.id,
                                      max_budget_usd=Decimal("50"), budget_period="monthly")
        revoked, revoked_secret = key_repo.create(member, name="old")
        key_repo.revoke(revoked)
        ids = {"key": key.id, "user": member.id, "project": project.id}
    for _ in range(3):
        assert _chat(client, secret).status_code == 200
    now = utcnow()
    with app.app_context():
        assert request_logs.insert_batch([
            log_row(f"old-{i}", created_at=now - timedelta(days=i + 1), api_key_id=ids["key"],
                    user_id=ids["user"], project_id=ids["project"], model="gpt-x",
                    input_tokens=100 * i, output_tokens=7 * i,
                    cost_usd=Decimal("0.0123456789") * i, status_code=200 if i % 4 else 502)
            for i in range(20)]) == []
    assert len(logged(app, count=23)) == 23
    return {"admin": admin_secret, "secret": secret, "revoked": revoked_secret}


def test_pg_dump_and_pg_restore_round_trip(app, client, world, upstream, tmp_path):
    pg_dump, pg_restore = _tool("pg_dump"), _tool("pg_restore")
    version = subprocess.run([pg_dump, "--version"], capture_output=True, text=True,
                             check=True).stdout
    server = _server_major(DATABASE_URL)
    assert _major(version.split("(PostgreSQL)")[-1]) >= server, (
        f"{version.strip()} cannot dump a PostgreSQL {server} server: install "
        f"postgresql-client-{server}")
    before = _reports(client, world["admin"])
    assert sum(group["requests"] for group in before["key"]["data"]) == 23

    dump = tmp_path / "gateway.dump"
    subprocess.run([pg_dump, "-Fc", "-d", DATABASE_URL, "-f", str(dump)], check=True,
                   timeout=120)
    name = f"{make_url(DATABASE_URL).database}_restore_{os.urandom(4).hex()}"
    restored_url = make_url(DATABASE_URL).set(database=name).render_as_string(False)
    _admin(DATABASE_URL, f'CREATE DATABASE "{name}"')
    restored = None
    try:
        subprocess.run([pg_restore, "--no-owner", "-d", restored_url, str(dump)], check=True,
                       timeout=120)
        restored = make_app(upstream, SQLALCHEMY_DATABASE_URI=restored_url)
        copy = restored.test_client()
        assert _reports(copy, world["admin"]) == before
        answer = _chat(copy, world["secret"])
        assert answer.status_code == 200, answer.get_data(as_text=True)
        assert _chat(copy, world["revoked"]).status_code == 401
        # The restored sequences go on after the old ids: the new request's row is written.
        row = logged(restored, answer.headers["x-request-id"])
        assert row.status_code == 200 and row.id > 23
        after = _reports(copy, world["admin"])
        assert after["model"]["data"] != before["model"]["data"]
    finally:
        if restored is not None:
            restored.extensions["gateway"].log_writer.close()
            restored.extensions["gateway"].vendors.close()
            with restored.app_context():
                db.engine.dispose()
        _admin(DATABASE_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
