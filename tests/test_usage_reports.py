"""GET /admin/usage and GET /v1/usage over request_logs rows inserted directly: the reports must
equal the sums computed here in Python (costs to the exact Decimal), on SQLite and PostgreSQL."""
import random
import re
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

import pytest

from app.extensions import db
from app.gateway.limits.periods import window
from app.models import ApiKey, utcnow
from app.repositories import keys as key_repo
from app.repositories import projects as project_repo
from app.repositories import request_logs
from app.repositories import usage as usage_repo
from app.repositories import users as user_repo
from tests.conftest import log_row as conftest_log_row

MASTER_KEY = "sk-master-usage-tests"
GROUPS = ("key", "user", "project", "model", "day", "hour")
MEASURES = ("requests", "errors", "input_tokens", "output_tokens", "cached_tokens", "cost_usd")
USD = re.compile(r"^\d+\.\d{10}$")
# Ages in days, each at least half a day away from the bounds the tests use (7d, 30d).
AGES = (0.001, 0.2, 1.5, 2.5, 3.6, 6.5, 7.5, 9.5, 12.5, 20.5, 29.5, 31.5, 45.5)


def log_row(request_id, created_at, **overrides):
    return conftest_log_row(request_id, created_at=created_at, **overrides)


def insert(app, rows):
    with app.app_context():
        request_logs.insert_batch(rows)


def new_key(app, email, role="member", **kwargs):
    """A key (and its user if new): {"id", "secret", "prefix", "user_id", "email", ...}."""
    with app.app_context():
        user = user_repo.get_by_email(email) or user_repo.create(email, role=role)
        key, secret = key_repo.create(user, **kwargs)
        return {"id": key.id, "secret": secret, "prefix": key.prefix, "user_id": user.id,
                "email": email, "project_id": key.project_id}


def auth(secret):
    return {"Authorization": f"Bearer {secret}"}


def error_of(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()["error"]


@pytest.fixture
def world(app):
    """Two projects, three users, five keys, and rows over 45 days: several models, statuses
    200/4xx/5xx, cached tokens, Decimal costs with up to 10 decimal places, requests without a
    key (401) and without a model."""
    with app.app_context():
        owner = user_repo.create("alice@example.com")
        p1 = project_repo.create("apollo", owner_id=owner.id).id
        p2 = project_repo.create("zephyr", owner_id=owner.id).id
    admin = new_key(app, "root@example.com", role="admin", name="admin")
    keys = [new_key(app, "alice@example.com", project_id=p1, name="a1"),
            new_key(app, "alice@example.com", name="a2"),
            new_key(app, "bob@example.com", project_id=p1, name="b1"),
            new_key(app, "bob@example.com", project_id=p2, name="b2"),
            new_key(app, "carol@example.com", name="c1")]
    rng = random.Random(20250131)
    now = utcnow()
    rows = []
    for i in range(160):
        key = rng.choice([*keys, None])
        status = rng.choice([200, 200, 200, 200, 400, 429, 500, 502])
        ok = status < 400
        rows.append(log_row(
            f"req-{i}", now - timedelta(days=rng.choice(AGES), seconds=rng.randint(0, 600)),
            api_key_id=key and key["id"], user_id=key and key["user_id"],
            project_id=key and key["project_id"],
            model=rng.choice(["gpt-a", "claude-b", "embed-c", None]) if key else "gpt-a",
            status_code=status if key else 401,
            input_tokens=rng.randint(1, 5000) if ok else 0,
            output_tokens=rng.randint(0, 2000) if ok else 0,
            cached_tokens=rng.choice([0, 0, rng.randint(1, 1000)]) if ok else 0,
            cost_usd=(Decimal(rng.randint(1, 10**11)) / Decimal(10**10)).quantize(
                Decimal("1e-10")) if ok else Decimal(0)))
    rows.append(log_row("req-big", now - timedelta(days=2.5), api_key_id=keys[4]["id"],
                        user_id=keys[4]["user_id"], model="gpt-a", input_tokens=10**6,
                        cost_usd=Decimal("1234.5678901234")))
    insert(app, rows)
    labels = {
        "key": {k["id"]: k["prefix"] + "…" for k in keys},
        "user": {k["user_id"]: k["email"] for k in keys},
        "project": {p1: "apollo", p2: "zephyr"},
    }
    return {"admin": admin, "keys": keys, "rows": rows, "labels": labels, "now": now,
            "projects": (p1, p2)}


def group_of(row, group_by, labels):
    if group_by == "model":
        return row["model"] if row["model"] is not None else "(no model)"
    if group_by == "day":
        return row["created_at"].date().isoformat()
    if group_by == "hour":
        return row["created_at"].strftime("%Y-%m-%dT%H:00:00Z")
    column = {"key": "api_key_id", "user": "user_id", "project": "project_id"}[group_by]
    return labels[group_by].get(row[column], f"(no {group_by})")


def expected(rows, group_by, labels):
    out = defaultdict(lambda: [0, 0, 0, 0, 0, Decimal(0)])
    for row in rows:
        sums = out[group_of(row, group_by, labels)]
        for i, value in enumerate((1, int(row["status_code"] >= 400), row["input_tokens"],
                                   row["output_tokens"], row["cached_tokens"], row["cost_usd"])):
            sums[i] += value
    return {group: tuple(sums) for group, sums in out.items()}


def measured(item):
    for name in MEASURES[:-1]:
        assert isinstance(item[name], int), (name, item)
    assert USD.match(item["cost_usd"]), item["cost_usd"]
    return (*(item[name] for name in MEASURES[:-1]), Decimal(item["cost_usd"]))


def total_of(groups):
    return tuple(sum(g[i] for g in groups.values()) for i in range(5)) + (
        sum((g[5] for g in groups.values()), Decimal(0)),)


def report(client, world, **params):
    response = client.get("/admin/usage", query_string=params,
                          headers=auth(world["admin"]["secret"]))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def check_report(body, rows, group_by, labels):
    want = expected(rows, group_by, labels)
    got = {item["group"]: measured(item) for item in body["data"]}
    assert len(got) == len(body["data"]), "a group appears twice"
    assert got == want
    assert measured(body["totals"]) == total_of(want)
    costs = [Decimal(item["cost_usd"]) for item in body["data"]]
    if group_by in ("day", "hour"):
        assert [item["group"] for item in body["data"]] == sorted(want)
    else:
        assert costs == sorted(costs, reverse=True)


# --- /admin/usage ------------------------------------------------------------------------------

@pytest.mark.parametrize("group_by", GROUPS)
def test_report_equals_python_sums_for_every_grouping(client, world, group_by):
    since = world["now"] - timedelta(days=60)
    body = report(client, world, group_by=group_by, since=since.isoformat() + "Z")
    assert body["group_by"] == group_by
    assert body["until"] is None
    check_report(body, world["rows"], group_by, world["labels"])
    if group_by in ("key", "user", "project"):
        ids = {item["group"]: item["id"] for item in body["data"]}
        assert {g: i for i, g in world["labels"][group_by].items() if g in ids} == {
            g: i for g, i in ids.items() if not g.startswith("(no ")}
        assert ids.get(f"(no {group_by})") is None and None not in ids


def test_latency_percentiles_over_the_reported_requests(app, client, world):
    """p50/p95 of latency and time to first token, as PostgreSQL's percentile_cont computes
    them, over exactly the requests of the report (a member's: its own)."""
    from app.repositories.usage import percentile

    now, alice = world["now"], world["keys"][0]
    extra = [log_row(f"lat{i}", created_at=now - timedelta(minutes=i), latency_ms=10 * i,
                     time_to_first_token_ms=i if i % 2 else None,
                     user_id=alice["user_id"]) for i in range(1, 21)]
    insert(app, extra)
    since = (now - timedelta(days=60)).isoformat() + "Z"
    rows = world["rows"] + extra
    body = report(client, world, since=since)
    latencies = sorted(r["latency_ms"] for r in rows)
    ttfts = sorted(r["time_to_first_token_ms"] for r in rows
                   if r["time_to_first_token_ms"] is not None)
    assert body["latency"] == pytest.approx({
        "p50_ms": percentile(latencies, 0.5), "p95_ms": percentile(latencies, 0.95),
        "ttft_p50_ms": percentile(ttfts, 0.5), "ttft_p95_ms": percentile(ttfts, 0.95)})
    own = client.get("/admin/usage", query_string={"since": since},
                     headers=auth(alice["secret"])).get_json()["latency"]
    mine = sorted(r["latency_ms"] for r in rows if r["user_id"] == alice["user_id"])
    assert own["p50_ms"] == pytest.approx(percentile(mine, 0.5))
    empty = report(client, world, since="2000-01-01", until="2000-01-02")["latency"]
    assert empty == {"p50_ms": None, "p95_ms": None, "ttft_p50_ms": None, "ttft_p95_ms": None}


def test_report_defaults_to_models_over_the_last_30_days(client, world):
    body = report(client, world)
    assert body["group_by"] == "model"
    since = usage_repo.parse_time(body["since"], utcnow())
    assert abs(since - (utcnow() - timedelta(days=30))) < timedelta(minutes=1)
    recent = [r for r in world["rows"] if r["created_at"] >= world["now"] - timedelta(days=30)]
    assert len(recent) < len(world["rows"])  # some rows are older and must be left out
    check_report(body, recent, "model", world["labels"])


def test_relative_since(client, world):
    body = report(client, world, group_by="user", since="7d")
    rows = [r for r in world["rows"] if r["created_at"] >= world["now"] - timedelta(days=7)]
    check_report(body, rows, "user", world["labels"])


def test_since_and_until_dates_and_datetimes(client, world):
    now = world["now"]
    since_day = (now - timedelta(days=21)).date()
    until_day = (now - timedelta(days=3)).date()
    body = report(client, world, group_by="day", since=since_day.isoformat(),
                  until=until_day.isoformat())
    # a bare `until` date includes that whole day
    lo = since_day.isoformat()
    rows = [r for r in world["rows"] if lo <= r["created_at"].date().isoformat()
            <= until_day.isoformat()]
    check_report(body, rows, "day", world["labels"])
    assert body["since"] == f"{lo}T00:00:00Z"
    assert body["until"] == f"{(until_day + timedelta(days=1)).isoformat()}T00:00:00Z"

    # datetimes with an offset are converted to UTC; `until` is exclusive
    since = now - timedelta(days=13)
    until = now - timedelta(days=2)
    body = report(client, world, group_by="model",
                  since=(since + timedelta(hours=2)).isoformat() + "+02:00",
                  until=until.isoformat() + "Z")
    rows = [r for r in world["rows"] if since <= r["created_at"] < until]
    check_report(body, rows, "model", world["labels"])


def test_until_alone_reports_the_30_days_before_it(client, world):
    until = world["now"] - timedelta(days=40)
    body = report(client, world, group_by="key", until=until.isoformat())
    assert body["since"] == (until - timedelta(days=30)).isoformat(timespec="seconds") + "Z"
    rows = [r for r in world["rows"] if until - timedelta(days=30) <= r["created_at"] < until]
    assert rows
    check_report(body, rows, "key", world["labels"])


@pytest.mark.parametrize("group_by", ["model", "project"])
def test_key_user_and_project_filters(client, world, group_by):
    keys, (p1, p2) = world["keys"], world["projects"]
    since = (world["now"] - timedelta(days=60)).isoformat()
    for params, keep in [
        ({"key_id": keys[0]["id"]}, lambda r: r["api_key_id"] == keys[0]["id"]),
        ({"user_id": keys[2]["user_id"]}, lambda r: r["user_id"] == keys[2]["user_id"]),
        ({"project_id": p1}, lambda r: r["project_id"] == p1),
        ({"project_id": p1, "user_id": keys[0]["user_id"]},
         lambda r: r["project_id"] == p1 and r["user_id"] == keys[0]["user_id"]),
        ({"project_id": p2, "key_id": keys[0]["id"]}, lambda r: False),
    ]:
        body = report(client, world, group_by=group_by, since=since, **params)
        rows = [r for r in world["rows"] if keep(r)]
        check_report(body, rows, group_by, world["labels"])
    assert body["data"] == []
    assert body["totals"] == {"requests": 0, "errors": 0, "input_tokens": 0,
                              "output_tokens": 0, "cached_tokens": 0,
                              "cost_usd": "0.0000000000"}


@pytest.mark.parametrize("params, param", [
    ({"group_by": "team"}, "group_by"),
    ({"since": "yesterday"}, "since"),
    ({"since": "7"}, "since"),
    ({"since": "2025-02-30"}, "since"),
    ({"until": "2025-13-01T00:00:00"}, "until"),
    ({"since": "1d", "until": "3d"}, "until"),  # until before since
    ({"key_id": "abc"}, "key_id"),
    ({"user_id": "0"}, "user_id"),
    ({"project_id": "-1"}, "project_id"),
    ({"key_id": str(2**63)}, "key_id"),
])
def test_bad_parameters_are_400_naming_the_parameter(client, world, params, param):
    response = client.get("/admin/usage", query_string=params,
                          headers=auth(world["admin"]["secret"]))
    error = error_of(response, 400)
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"
    assert param in error["message"]


def test_unknown_ids_give_an_empty_report(client, world):
    for name in ("key_id", "user_id", "project_id"):
        body = report(client, world, **{name: str(2**31 - 1)})  # the largest id a column holds
        assert body["data"] == [] and body["totals"]["requests"] == 0


@pytest.mark.parametrize("group_by", ["key", "model", "hour"])
def test_a_member_reads_only_its_own_users_usage(client, world, group_by):
    """A member key gets the report of its own user's keys, whatever user_id it asks for."""
    alice = world["keys"][0]
    own = [r for r in world["rows"] if r["user_id"] == alice["user_id"]]
    bob = world["keys"][2]["user_id"]
    for params in ({}, {"user_id": str(bob)}, {"key_id": str(world["keys"][2]["id"])}):
        response = client.get("/admin/usage", headers=auth(alice["secret"]),
                              query_string={"group_by": group_by, "since": "60d", **params})
        assert response.status_code == 200, response.get_data(as_text=True)
        rows = own if not params.get("key_id") else []
        check_report(response.get_json(), rows, group_by, world["labels"])


def test_admin_report_needs_a_key(client, world):
    assert error_of(client.get("/admin/usage"), 401)["code"] == "missing_api_key"
    assert error_of(client.get("/admin/usage", headers=auth("sk-gw-nope")), 401)["code"] == (
        "invalid_api_key")


def test_master_key_reads_the_report_but_has_no_own_usage(app_factory):
    app = app_factory(GATEWAY_MASTER_KEY=MASTER_KEY)
    client = app.test_client()
    key = new_key(app, "dev@example.com")
    insert(app, [log_row("m1", utcnow(), api_key_id=key["id"], user_id=key["user_id"],
                         model="gpt-a", cost_usd=Decimal("0.25"))])
    body = client.get("/admin/usage?group_by=key", headers=auth(MASTER_KEY)).get_json()
    assert body["data"][0]["group"] == key["prefix"] + "…"
    assert body["totals"]["cost_usd"] == "0.2500000000"
    error = error_of(client.get("/v1/usage", headers=auth(MASTER_KEY)), 400)
    assert error["code"] == "master_key_has_no_usage"
    assert "per key" in error["message"] and "/admin/usage" in error["message"]


# --- /v1/usage ---------------------------------------------------------------------------------

def own(client, secret, **params):
    response = client.get("/v1/usage", query_string=params, headers=auth(secret))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def sums(rows):
    return total_of(expected(rows, "model", {}))


@pytest.mark.parametrize("period", ["daily", "weekly", "monthly"])
def test_own_usage_and_budget_count_the_current_window_only(app, client, period):
    mine = new_key(app, "dev@example.com", name="ci", max_budget_usd=Decimal("5.5"),
                   budget_period=period)
    other = new_key(app, "dev@example.com")
    now = utcnow()
    start, end, _ = window(period, now)
    inside = start + (now - start) / 2
    ids = {"api_key_id": mine["id"], "user_id": mine["user_id"]}
    rows = [
        log_row("w1", inside, model="gpt-a", input_tokens=100, output_tokens=7,
                cached_tokens=3, cost_usd=Decimal("1.2345678901"), **ids),
        log_row("w2", start, model="claude-b", input_tokens=50, output_tokens=5,
                cost_usd=Decimal("0.0000000001"), **ids),
        log_row("w3", inside, model="gpt-a", status_code=500, **ids),
        # the previous window (e.g. last month for a monthly budget): not counted
        log_row("old", start - timedelta(seconds=1), model="gpt-a", input_tokens=999,
                cost_usd=Decimal("3"), **ids),
        # another key of the same user: not counted
        log_row("theirs", inside, api_key_id=other["id"], user_id=other["user_id"],
                model="gpt-a", input_tokens=1, cost_usd=Decimal("2")),
    ]
    insert(app, rows)
    body = own(client, mine["secret"])
    assert body["key"] == {"id": mine["id"], "prefix": mine["prefix"], "name": "ci"}
    assert body["period"] == {"budget_period": period, "start": start.isoformat() + "Z",
                              "end": end.isoformat() + "Z"}
    current = rows[:3]
    assert measured(body["usage"]) == sums(current)
    assert body["usage"]["errors"] == 1
    spent = Decimal("1.2345678900")  # the budget counter counts whole nano-dollars
    assert body["budget"] == {"max_budget_usd": "5.5000000000", "budget_period": period,
                              "spent_usd": str(spent), "reserved_usd": "0.0000000000",
                              "remaining_usd": str(Decimal("5.5") - spent),
                              "resets_at": end.isoformat() + "Z"}

    # another window for the figures; the budget still counts the current window
    body = own(client, mine["secret"], since=(start - timedelta(days=1)).date().isoformat())
    assert measured(body["usage"]) == sums(rows[:4])
    assert body["period"]["end"] is None
    assert body["budget"]["spent_usd"] == str(spent)

    # the other key sees only its own row, and has no budget
    body = own(client, other["secret"])
    assert body["budget"] is None
    assert measured(body["usage"]) == sums(rows[4:])


def test_own_usage_without_a_budget_covers_the_last_30_days(app, client):
    key = new_key(app, "dev@example.com")
    now = utcnow()
    ids = {"api_key_id": key["id"], "user_id": key["user_id"]}
    rows = [log_row(f"r{age}", now - timedelta(days=age), model="gpt-a", input_tokens=age,
                    cost_usd=(Decimal(age) / 7).quantize(Decimal("1e-10")), **ids)
            for age in (1, 29, 31, 90)]
    insert(app, rows)
    body = own(client, key["secret"])
    assert body["budget"] is None
    assert body["period"]["budget_period"] is None and body["period"]["end"] is None
    assert measured(body["usage"]) == sums(rows[:2])
    assert measured(own(client, key["secret"], since="60d")["usage"]) == sums(rows[:3])
    until = (now - timedelta(days=30)).isoformat() + "Z"
    assert measured(own(client, key["secret"], since="100d", until=until)["usage"]) == (
        sums(rows[2:]))


def test_lifetime_budget_counts_every_row_and_never_goes_below_zero(app, client):
    key = new_key(app, "dev@example.com", max_budget_usd=Decimal("1"))
    ids = {"api_key_id": key["id"], "user_id": key["user_id"]}
    insert(app, [log_row("recent", utcnow(), cost_usd=Decimal("0.75"), **ids),
                 log_row("ancient", utcnow() - timedelta(days=400), cost_usd=Decimal("0.5"),
                         **ids)])
    body = own(client, key["secret"])
    assert body["usage"]["cost_usd"] == "0.7500000000"  # the figures: the last 30 days
    assert body["budget"] == {"max_budget_usd": "1.0000000000", "budget_period": None,
                              "spent_usd": "1.2500000000", "reserved_usd": "0.0000000000",
                              "remaining_usd": "0.0000000000", "resets_at": None}


def test_own_usage_errors(app, client):
    key = new_key(app, "dev@example.com")
    assert error_of(client.get("/v1/usage"), 401)["code"] == "missing_api_key"
    error = error_of(client.get("/v1/usage?since=soon", headers=auth(key["secret"])), 400)
    assert error["param"] == "since"
    with app.app_context():
        key_repo.revoke(db.session.get(ApiKey, key["id"]))
    app.extensions["gateway"].authenticator.invalidate()
    assert error_of(client.get("/v1/usage", headers=auth(key["secret"])), 401)["code"] == (
        "revoked_api_key")


def test_swagger_documents_the_usage_endpoints(client):
    paths = client.get("/apispec_1.json").get_json()["paths"]
    for path in ("/admin/usage", "/v1/usage"):
        operation = paths[path]["get"]
        assert operation["tags"] == ["Usage"]
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema["properties"]
    params = {p["name"] for p in paths["/admin/usage"]["get"]["parameters"]}
    assert params == {"group_by", "since", "until", "key_id", "user_id", "project_id"}
