"""GET /admin/logs (the request-log explorer: filters, keyset pages) and GET /admin/logs/{id}
over request_logs rows inserted directly, on SQLite and PostgreSQL; a member sees only its own
user's rows."""
import base64
from datetime import timedelta
from decimal import Decimal

import pytest

from app.models import utcnow
from app.repositories import keys as key_repo
from app.repositories import log_queries, request_logs
from app.repositories import projects as project_repo
from app.repositories import users as user_repo
from tests.admin_helpers import ADMIN_EMAIL, MEMBER_EMAIL, Api, error_of
from tests.conftest import log_row

pytest_plugins = ["tests.admin_fixtures"]  # admin, member, … fixtures

STATUSES = (200, 200, 200, 429, 400, 500, 502, 499)
ERRORS = {429: "rate_limit_error", 400: "invalid_request_error", 500: "api_error",
          502: "upstream_error", 499: "client_disconnected"}
MODELS = ("gpt-a", "gpt-a", "claude-b", "rare-c")
PROVIDERS = {"gpt-a": "openai", "claude-b": "anthropic", "rare-c": "tiny"}


@pytest.fixture
def world(app, admin, member, member_id):
    """120 rows of the admin's key and the member's key over 2 days, newest = index 0; several
    rows share a created_at (ties broken by id); one member row with two attempts."""
    with app.app_context():
        admin_user = user_repo.get_by_email(ADMIN_EMAIL)
        project = project_repo.create("apollo", owner_id=admin_user.id).id
        admin_key, _ = key_repo.create(admin_user, name="a", project_id=project)
        member_key, _ = key_repo.create(user_repo.get(member_id), name="m")
        keys = {"admin": (admin_key.id, admin_user.id, project),
                "member": (member_key.id, member_id, None)}
    now = utcnow().replace(microsecond=0)
    rows = []
    for i in range(120):
        owner = "member" if i % 3 == 0 else "admin"
        key_id, user_id, project_id = keys[owner]
        status = STATUSES[i % len(STATUSES)]
        model = MODELS[i % len(MODELS)]
        rows.append(log_row(
            f"req_{i:04d}", created_at=now - timedelta(minutes=30 * (i // 2)),  # pairs tie
            client_request_id=f"client-{i % 50}", api_key_id=key_id, user_id=user_id,
            project_id=project_id, model=model, provider=PROVIDERS[model],
            upstream_model=f"{model}-up", status_code=status, error_type=ERRORS.get(status),
            error_message="boom" if status >= 400 else None, input_tokens=i, output_tokens=2 * i,
            cost_usd=Decimal("0.0000000001") * i, latency_ms=100 + i,
            time_to_first_token_ms=50 + i,
            attempts=([{"provider": "tiny", "model": "x", "key": 0, "status": 503,
                        "error": "upstream_unavailable", "latency_ms": 40},
                       {"provider": "openai", "model": "gpt-a-up", "key": 1, "status": 200,
                        "error": None, "latency_ms": 60}] if i == 3 else None)))
    with app.app_context():
        request_logs.insert_batch(list(reversed(rows)))  # ids rise with time
    return {"rows": rows, "keys": keys, "project": project, "member_id": member_id}


def expected(world, **match):
    """request ids of the world's rows matching every predicate, newest first: the world's order
    (rows inserted oldest first, so of two rows with one created_at the lower index has the
    higher id and comes first)."""
    rows = [r for r in world["rows"] if all(test(r) for test in match.values())]
    return [r["request_id"] for r in rows]


def walk(api, query, limit):
    """Every request id over every page, following next_cursor."""
    ids, cursor, pages = [], None, 0
    while True:
        url = f"/admin/logs?limit={limit}&{query}" + (f"&cursor={cursor}" if cursor else "")
        response = api.get(url)
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        assert len(body["data"]) <= limit and body["limit"] == limit
        ids += [row["request_id"] for row in body["data"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return ids, pages


def test_pages_walk_every_row_once_newest_first(admin, world):
    ids, pages = walk(admin, "", 7)
    assert ids == expected(world)  # rows tied on created_at come by id, highest first
    assert pages == 18  # 120 rows: 17 full pages and one of 1
    first = admin.get("/admin/logs").get_json()
    assert first["limit"] == 50 and len(first["data"]) == 50


@pytest.mark.parametrize("query, match", [
    ("status=429", {"s": lambda r: r["status_code"] == 429}),
    ("status=5xx", {"s": lambda r: 500 <= r["status_code"] < 600}),
    ("status=4xx", {"s": lambda r: 400 <= r["status_code"] < 500}),
    ("status=4xx&model=rare-c", {"s": lambda r: 400 <= r["status_code"] < 500,
                                 "m": lambda r: r["model"] == "rare-c"}),
    ("model=claude-b", {"m": lambda r: r["model"] == "claude-b"}),
    ("provider=tiny", {"p": lambda r: r["provider"] == "tiny"}),
    ("error_type=upstream_error", {"e": lambda r: r["error_type"] == "upstream_error"}),
    ("request_id=req_0007", {"r": lambda r: r["request_id"] == "req_0007"}),
    ("request_id=client-7", {"r": lambda r: r["client_request_id"] == "client-7"}),
    ("model=&provider=&status=", {}),  # empty: no filter
])
def test_filters(admin, world, query, match):
    ids, _ = walk(admin, query, 5)
    assert ids == expected(world, **match)
    assert ids  # every filter here matches some rows


def test_key_user_project_and_time_filters(admin, world):
    key_id, user_id, project = world["keys"]["admin"]
    assert walk(admin, f"key_id={key_id}", 9)[0] == expected(
        world, k=lambda r: r["api_key_id"] == key_id)
    assert walk(admin, f"user_id={world['member_id']}", 9)[0] == expected(
        world, u=lambda r: r["user_id"] == world["member_id"])
    assert walk(admin, f"project_id={project}", 9)[0] == expected(
        world, p=lambda r: r["project_id"] == project)
    newest = world["rows"][0]["created_at"]
    since, until = newest - timedelta(hours=5), newest - timedelta(hours=1)
    query = f"from={since.isoformat()}Z&to={until.isoformat()}Z"
    assert walk(admin, query, 4)[0] == expected(
        world, t=lambda r: since <= r["created_at"] < until)
    assert walk(admin, "from=2h", 50)[0] == expected(
        world, t=lambda r: r["created_at"] >= utcnow() - timedelta(hours=2))
    # a range that ends before it starts is empty, not an error
    assert walk(admin, f"from={until.isoformat()}Z&to={since.isoformat()}Z", 5)[0] == []


def test_rows_carry_what_the_explorer_shows(admin, world):
    row = admin.get("/admin/logs?request_id=req_0003").get_json()["data"][0]
    assert row["client_request_id"] == "client-3" and row["status_code"] == 429
    assert row["deployment"] == "tiny/rare-c-up" and row["attempt_count"] == 2
    assert row["cost_usd"] == "0.0000000003" and row["input_tokens"] == 3
    assert row["created_at"].endswith("Z") and row["time_to_first_token_ms"] == 53


def test_detail_has_every_attempt(admin, world):
    response = admin.get("/admin/logs/req_0003")
    assert response.status_code == 200
    body = response.get_json()
    assert body["request_id"] == "req_0003" and body["client_request_id"] == "client-3"
    assert [(a["deployment"], a["status"], a["latency_ms"], a["error"])
            for a in body["attempts"]] == [("tiny/x", 503, 40, "upstream_unavailable"),
                                           ("openai/gpt-a-up", 200, 60, None)]
    assert body["error_message"] == "boom" and body["output_tokens"] == 6
    assert body["time_to_first_token_ms"] == 53 and body["cost_usd"] == "0.0000000003"
    assert admin.get("/admin/logs/req_0001").get_json()["attempts"] == []
    assert error_of(admin.get("/admin/logs/req_nope"))["param"] == "request_id"
    assert admin.get("/admin/logs/req_nope").status_code == 404
    assert admin.get("/admin/logs/a%00b").status_code == 404
    assert admin.get("/admin/logs/" + "x" * 300).status_code == 404


def test_a_member_sees_only_its_own_users_logs(admin, member, world):
    own = expected(world, u=lambda r: r["user_id"] == world["member_id"])
    assert walk(member, "", 6)[0] == own
    admin_user = world["keys"]["admin"][1]
    assert walk(member, f"user_id={admin_user}", 6)[0] == own  # asking for another: still own
    admin_key = world["keys"]["admin"][0]
    assert walk(member, f"key_id={admin_key}", 6)[0] == []
    assert member.get("/admin/logs/req_0003").status_code == 200  # i % 3 == 0: the member's
    response = member.get("/admin/logs/req_0001")  # the admin's
    assert response.status_code == 404 and error_of(response)["param"] == "request_id"


def test_master_key_sees_everything(app_factory, client, world):
    app = app_factory(GATEWAY_MASTER_KEY="sk-master-logs")
    master = Api(app.test_client(), "sk-master-logs")
    assert walk(master, "", 40)[0] == expected(world)


@pytest.mark.parametrize("query, param", [
    ("status=600", "status"), ("status=42", "status"), ("status=6xx", "status"),
    ("status=4XX", "status"), ("status=%00", "status"), ("model=a%00b", "model"),
    ("provider=" + "p" * 101, "provider"), ("error_type=x%01", "error_type"),
    ("request_id=a%00", "request_id"), ("from=yesterday", "from"), ("to=%00", "to"),
    ("from=2025-13-01", "from"), ("key_id=0", "key_id"), ("user_id=x", "user_id"),
    ("project_id=-1", "project_id"), ("limit=0", "limit"), ("limit=501", "limit"),
    ("limit=", "limit"), ("cursor=nope", "cursor"), ("cursor=%00", "cursor"),
    ("cursor=" + base64.urlsafe_b64encode(b"2025-01-01T00:00:00.000000~0").decode(), "cursor"),
    ("cursor=" + base64.urlsafe_b64encode(b"9999-99-99T00:00:00.000000~5").decode(), "cursor"),
    ("cursor=" + "A" * 200, "cursor"),
    ("cursor=" + base64.urlsafe_b64encode(b"2025-01-01T00:00:00.000000~" + b"9" * 19).decode(),
     "cursor"),  # an id past BIGINT
])
def test_bad_input_is_a_400_naming_the_field(admin, world, query, param):
    response = admin.get(f"/admin/logs?{query}")
    assert response.status_code == 400, response.get_data(as_text=True)
    assert error_of(response)["param"] == param


def test_cursor_round_trip():
    when = utcnow()
    cursor = log_queries.encode_cursor(when, 12345)
    assert log_queries.decode_cursor(cursor) == (when, 12345)
    assert "=" not in cursor and len(cursor) <= 64


def test_no_key_is_a_401(client, world):
    assert client.get("/admin/logs").status_code == 401
    assert client.get("/admin/logs/req_0001").status_code == 401


def test_member_fixture_is_a_member(app, member_id):
    with app.app_context():
        assert user_repo.get(member_id).email == MEMBER_EMAIL
