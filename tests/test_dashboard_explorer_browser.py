"""The request-log explorer and the models page in a real browser (Playwright driving Debian's
Chromium, as tests/test_dashboard_browser.py does): filters that become the URL, keyset paging
forwards and back, a request's attempts, and the models' circuits."""
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import expect

from app.gateway.catalog.fields import CircuitSettings
from app.gateway.routing.health import Gate
from app.models import utcnow
from app.repositories import request_logs
from tests.conftest import log_row
from tests.dashboard_helpers import new_key

MODELS = [("gpt-test", "up-openai", "gpt-upstream"),
          ("claude-test", "up-anthropic", "claude-upstream"), ("mock-echo", "mock", "echo")]
STATUSES = [200, 200, 429, 500, 200, 502]
ATTEMPTS = [{"provider": "up-anthropic", "model": "claude-upstream", "key": 0, "status": 503,
             "error": "upstream_unavailable", "latency_ms": 41},
            {"provider": "up-openai", "model": "gpt-upstream", "key": 0, "status": 200,
             "error": None, "latency_ms": 63}]








def seed(app, who, count=12, prefix="req"):
    """count rows of who's key, newest first (row i is i minutes old); row 3 has two attempts."""
    now = utcnow()
    rows = []
    for i in range(count):
        model, provider, upstream = MODELS[i % len(MODELS)]
        status = STATUSES[i % len(STATUSES)]
        rows.append(log_row(
            f"{prefix}_{i:02d}", created_at=now - timedelta(minutes=i), api_key_id=who["id"],
            user_id=who["user_id"], client_request_id=f"client-{prefix}-{i}", model=model,
            provider=provider, upstream_model=upstream, status_code=status,
            error_type="upstream_error" if status >= 500 else "rate_limit_exceeded"
            if status == 429 else None, input_tokens=100 + i, output_tokens=10 + i,
            cost_usd=Decimal("0.0125"), latency_ms=200 + i, time_to_first_token_ms=80 + i,
            attempts=ATTEMPTS if i == 3 else None))
    with app.app_context():
        request_logs.insert_batch(rows)
    return rows


def log_in(page, who, path):
    page.goto(path)
    page.fill("#key", who["secret"])
    page.click("#login button[type=submit]")
    page.wait_for_url(lambda url: urlsplit(url).path == path)


def shown(page):
    """The request ids of the table's rows, once the page has loaded."""
    page.wait_for_function("() => !document.body.dataset.loading")
    return page.eval_on_selector_all("#logs tbody tr", "rows => rows.map(r => r.dataset.requestId)")


def ids(rows, test=lambda row: True):
    return [row["request_id"] for row in rows if test(row)]


def query_of(page):
    return {name: values[0] for name, values in parse_qs(urlsplit(page.url).query).items()}


def test_filter_page_and_open_a_request(app, page, site):
    admin = new_key(app, "root@example.com", role="admin", name="root")
    rows = seed(app, admin)
    log_in(page, admin, "/dashboard/logs")
    assert shown(page) == ids(rows)
    expect(page.locator('tr[data-request-id="req_00"]')).to_contain_text("root@example.com")

    page.fill("#f-status", "5xx")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**/dashboard/logs?status=5xx")
    assert shown(page) == ids(rows, lambda r: r["status_code"] >= 500) != []

    page.fill("#f-status", "")
    page.fill("#f-model", "claude-test")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**/dashboard/logs?model=claude-test")
    assert shown(page) == ids(rows, lambda r: r["model"] == "claude-test") != []

    # a bookmarked URL: the form shows its filters, the table its rows
    page.goto("/dashboard/logs?status=500&model=gpt-test")
    expect(page.locator("#f-status")).to_have_value("500")
    expect(page.locator("#f-model")).to_have_value("gpt-test")
    assert shown(page) == ids(rows, lambda r: r["status_code"] == 500
                              and r["model"] == "gpt-test") == ["req_03", "req_09"]

    page.goto("/dashboard/logs?request_id=client-req-7")  # the client's id
    page.click("#clear")
    page.wait_for_url("**/dashboard/logs")
    page.fill("#f-request", "client-req-7")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**/dashboard/logs?request_id=client-req-7")
    assert shown(page) == ["req_07"]

    # what is typed while the page still loads is kept (the first fetch once wiped it)
    held = []
    page.route("**/admin/keys?*", lambda route: held.append(route))
    page.goto("/dashboard/logs?model=gpt-test")
    expect(page.locator("#f-model")).to_have_value("gpt-test")
    page.fill("#f-model", "claude-test")
    page.wait_for_function("() => document.body.dataset.loading")
    held[0].continue_()
    page.unroute("**/admin/keys?*")
    assert shown(page) == ids(rows, lambda r: r["model"] == "gpt-test")
    expect(page.locator("#f-model")).to_have_value("claude-test")

    # keyset paging, five at a time: forwards to the end, then back with "Newer"
    page.goto("/dashboard/logs?limit=5")
    pages = [ids(rows)[:5], ids(rows)[5:10], ids(rows)[10:]]
    assert shown(page) == pages[0]
    expect(page.locator("#newer")).to_be_hidden()
    page.click("#next")
    page.wait_for_url("**cursor=*")
    assert shown(page) == pages[1]
    assert query_of(page)["limit"] == "5"
    page.click("#next")
    expect(page.locator("#page-info")).to_contain_text("Page 3")
    assert shown(page) == pages[2]
    expect(page.locator("#next")).to_be_hidden()
    page.click("#newer")
    expect(page.locator("#page-info")).to_contain_text("Page 2")
    assert shown(page) == pages[1]
    page.go_back()  # the browser's history pages too
    expect(page.locator("#page-info")).to_contain_text("Page 3")
    assert shown(page) == pages[2]
    page.click("#newer")
    page.click("#newer")
    expect(page.locator("#page-info")).to_contain_text("Newest")
    assert shown(page) == pages[0] and "cursor" not in query_of(page)

    # a request's detail: every attempt, tokens, cost, TTFT, the client's id
    page.click('tr[data-request-id="req_03"] a')
    page.wait_for_url("**/dashboard/logs/req_03")
    expect(page.locator('[data-fact="client_request_id"]')).to_have_text("client-req-3")
    expect(page.locator('[data-fact="ttft"]')).to_have_text("83 ms")
    expect(page.locator('[data-fact="tokens"]')).to_contain_text("in 103 · out 13")
    expect(page.locator('[data-fact="cost"]')).to_have_text("$0.0125")
    attempts = page.locator("#attempts tbody tr")
    expect(attempts).to_have_count(2)
    expect(attempts.nth(0)).to_contain_text("up-anthropic/claude-upstream")
    expect(attempts.nth(0)).to_contain_text("503")
    expect(attempts.nth(0)).to_contain_text("upstream_unavailable")
    expect(attempts.nth(0)).to_contain_text("41 ms")
    expect(attempts.nth(1)).to_contain_text("up-openai/gpt-upstream")
    page.click('[data-fact="key"] a')  # the key's other requests
    page.wait_for_url(f"**/dashboard/logs?key_id={admin['id']}")
    assert shown(page) == ids(rows)
    page.goto("/dashboard/logs?status=abc")  # the API's refusal, shown as it comes
    assert shown(page) == []
    expect(page.locator("#error")).to_contain_text("`status` must be an HTTP status code")
    page.goto("/dashboard/logs/req_nope")
    expect(page.locator("#error")).to_contain_text("No request req_nope")


def test_a_member_explores_only_its_own_requests_and_is_told_models_are_for_admins(app, page):
    alice = new_key(app, "alice@example.com", name="alice-laptop")
    bob = new_key(app, "bob@example.com", name="bob-ci")
    mine = seed(app, alice, count=4, prefix="alice")
    seed(app, bob, count=4, prefix="bob")
    log_in(page, alice, "/dashboard/logs")
    assert shown(page) == ids(mine)
    expect(page.locator("#f-user")).to_have_count(0)
    page.goto("/dashboard/logs?request_id=client-bob-1")
    assert shown(page) == []
    expect(page.locator("#empty")).to_be_visible()
    page.goto("/dashboard/logs/bob_01")
    expect(page.locator("#error")).to_contain_text("No request bob_01")

    page.click("nav >> text=Models")
    page.wait_for_url("**/dashboard/models")
    expect(page.locator("#admins-only")).to_contain_text("Admins only")
    expect(page.locator("#error")).to_be_hidden()


def test_the_models_page_shows_each_deployments_circuit_and_keys(app, page):
    admin = new_key(app, "root@example.com", role="admin", name="root")
    seed(app, admin)
    gateway = app.extensions["gateway"]
    entry = gateway.router.catalog.models["gpt-test"]
    route = gateway.router.route(entry, entry.deployments[0])
    circuit = CircuitSettings(window_seconds=60, min_requests=1, failure_rate=0.5,
                              cooldown_seconds=30)
    for status, code in [(429, "rate_limit_error"), (500, "upstream_error")]:
        gateway.health.record(route, Gate(key=0), circuit, SimpleNamespace(
            upstream_status=status, retryable=True, code=code, retry_after=None,
            openai_type=code))
    log_in(page, admin, "/dashboard/models")
    gpt = page.locator('section[data-model="gpt-test"] '
                       'tr[data-deployment="up-openai/gpt-upstream"]')
    expect(gpt.locator(".circuit")).to_have_text("open")
    expect(gpt).to_contain_text("probe in")
    expect(gpt.locator(".key-state")).to_contain_text("#0 rate limited")
    # the last hour's seeded gpt-test rows: latencies 200, 203, 206, 209; two of them 500s
    expect(gpt.locator("td").nth(5)).to_have_text("4")
    expect(gpt.locator("td").nth(6)).to_have_text("50.0%")
    expect(gpt.locator("td").nth(7)).to_have_text("204.5 ms")
    claude = page.locator('section[data-model="claude-test"] tr[data-deployment]').first
    expect(claude.locator(".circuit")).to_have_text("closed")
    expect(page.locator("nav a[aria-current=page]")).to_have_text("Models")
