"""The dashboard in a real browser: Playwright driving Debian's Chromium (/usr/bin/chromium, or
CHROMIUM_PATH) against the gateway on a loopback socket. A missing browser fails these tests: CI
installs it (.ci/run). DASHBOARD_SCREENSHOT=<path> also saves the overview as that PNG (the
README's docs/dashboard.png)."""
import os
from datetime import timedelta
from decimal import Decimal

import requests
from playwright.sync_api import expect

from app.models import utcnow
from app.repositories import request_logs
from tests.conftest import log_row
from tests.dashboard_helpers import bearer, new_key

REQUESTS_BLUE = (78, 121, 167)  # the "requests" bars' colour in overview.js (#4e79a7)








def test_log_in_create_a_key_see_its_secret_once_revoke_it_and_log_out(app, page, site):
    admin = new_key(app, "root@example.com", role="admin", name="root")
    page.goto("/dashboard/keys")
    expect(page).to_have_url(f"{site}/dashboard/login?next=/dashboard/keys")
    page.fill("#key", "sk-gw-not-a-key")
    page.click("#login button[type=submit]")
    expect(page.locator("#error")).to_contain_text("Invalid API key")
    page.fill("#key", admin["secret"])
    page.click("#login button[type=submit]")
    page.wait_for_url("**/dashboard/keys")
    expect(page.locator("#who")).to_contain_text("root@example.com")
    expect(page.locator(f'tr[data-key-id="{admin["id"]}"]')).to_contain_text("root")

    page.fill("#new-name", "browser-made")
    page.fill("#new-expires", "30d")
    page.click("#create button[type=submit]")
    secret_box = page.locator("#secret-box")
    expect(secret_box).to_be_visible()
    secret = page.inner_text("#secret")
    assert secret.startswith("sk-gw-") and len(secret) > 40
    page.click("#copy")
    expect(page.locator("#copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    row = page.locator("#keys tbody tr", has_text="browser-made")
    expect(row).to_contain_text(secret[:12])
    assert requests.get(f"{site}/v1/models", headers=bearer(secret), timeout=5).status_code == 200

    page.reload()
    expect(row).to_be_visible()
    expect(secret_box).to_be_hidden()
    assert secret not in page.content()  # shown once: the API never returns it again

    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button.revoke").click()
    expect(row).to_have_count(0)  # the list shows active keys
    page.select_option("#state", "revoked")
    expect(row).to_contain_text("revoked")
    assert requests.get(f"{site}/v1/models", headers=bearer(secret), timeout=5).status_code == 401

    page.click("#logout")
    page.wait_for_url("**/dashboard/login")
    page.goto("/dashboard/keys")
    expect(page).to_have_url(f"{site}/dashboard/login?next=/dashboard/keys")
    assert page.context.request.get(f"{site}/admin/keys").status == 401


def test_overview_draws_the_usage_of_the_seeded_requests(app, page, site):
    admin = new_key(app, "root@example.com", role="admin", name="root")
    now = utcnow()
    ages = [timedelta(minutes=5), timedelta(minutes=70), timedelta(minutes=75),
            timedelta(days=2), timedelta(days=4, hours=1)]
    rows = [log_row(f"seed-{i}", created_at=now - age, api_key_id=admin["id"],
                    user_id=admin["user_id"], model="gpt-test" if i % 2 else "claude-test",
                    status_code=500 if i == 2 else 200, input_tokens=100 * (i + 1),
                    output_tokens=10 * (i + 1), cost_usd=Decimal("0.0125"),
                    latency_ms=100 * (i + 1), time_to_first_token_ms=20 if i < 2 else None)
            for i, age in enumerate(ages)]
    with app.app_context():
        request_logs.insert_batch(rows)
    page.goto("/dashboard/")
    page.fill("#key", admin["secret"])
    page.click("#login button[type=submit]")
    page.wait_for_url("**/dashboard/")

    expect(page.locator('[data-total="requests"]')).to_have_text("5")
    expect(page.locator('[data-total="errors"]')).to_have_text("1")
    expect(page.locator('[data-total="cost"]')).to_have_text("$0.0625")
    expect(page.locator("#top-model tbody tr")).to_have_count(2)
    expect(page.locator("#top-model tbody")).to_contain_text("gpt-test")
    expect(page.locator("#top-key tbody tr")).to_have_count(1)
    expect(page.locator("#top-key tbody")).to_contain_text(admin["prefix"])
    expect(page.locator("#top-user tbody")).to_contain_text("root@example.com")
    # latency 100..500 ms: p50 300, p95 480; time to first token 20 ms on two of them
    expect(page.locator('[data-latency="p50_ms"]')).to_have_text("300 ms")
    expect(page.locator('[data-latency="p95_ms"]')).to_have_text("480 ms")
    expect(page.locator('[data-latency="ttft_p50_ms"]')).to_have_text("20 ms")
    days = [(now.date() - timedelta(days=6 - i)).isoformat() for i in range(7)]
    assert chart_data(page, 0) == per_bucket(rows, days, lambda t: t.date().isoformat())
    assert chart_data(page, 1) == per_bucket(rows, days, lambda t: t.date().isoformat(),
                                             errors=True)
    assert blue_pixels(page, "chart-requests") > 100  # the bars are drawn, not only the axes

    page.select_option("#range", "24h")
    page.wait_for_function("() => Dashboard.charts['chart-requests'].data.labels.length === 24")
    hour = now.replace(minute=0, second=0, microsecond=0)
    hours = [(hour - timedelta(hours=23 - i)).strftime("%Y-%m-%dT%H") for i in range(24)]
    hourly = per_bucket(rows, hours, lambda t: t.strftime("%Y-%m-%dT%H"))
    assert chart_data(page, 0) == hourly and sum(hourly) == 3
    expect(page.locator('[data-total="requests"]')).to_have_text("3")
    page.select_option("#range", "7d")
    page.wait_for_function("() => Dashboard.charts['chart-requests'].data.labels.length === 7")
    if os.environ.get("DASHBOARD_SCREENSHOT"):
        page.screenshot(path=os.environ["DASHBOARD_SCREENSHOT"], full_page=True)


def per_bucket(rows, buckets, bucket_of, errors=False):
    """The requests (or errors) of the seeded rows per bucket, as the chart should show them."""
    counts = dict.fromkeys(buckets, 0)
    for row in rows:
        bucket = bucket_of(row["created_at"])
        if bucket in counts and (not errors or row["status_code"] >= 400):
            counts[bucket] += 1
    return list(counts.values())


def chart_data(page, dataset):
    return page.evaluate(f"Dashboard.charts['chart-requests'].data.datasets[{dataset}].data")


def blue_pixels(page, canvas_id):
    """How many pixels of the canvas have the requests bars' colour."""
    return page.evaluate("""([id, rgb]) => {
        const canvas = document.getElementById(id);
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let n = 0;
        for (let i = 0; i < data.length; i += 4) {
            if (Math.abs(data[i] - rgb[0]) < 8 && Math.abs(data[i + 1] - rgb[1]) < 8
                && Math.abs(data[i + 2] - rgb[2]) < 8 && data[i + 3] > 200) n++;
        }
        return n;
    }""", [canvas_id, list(REQUESTS_BLUE)])


def test_a_member_sees_and_reaches_only_its_own_keys_and_usage(app, page, site):
    alice = new_key(app, "alice@example.com", name="alice-laptop")
    bob = new_key(app, "bob@example.com", name="bob-ci")
    page.goto("/dashboard/keys")
    page.fill("#key", alice["secret"])
    page.click("#login button[type=submit]")
    page.wait_for_url("**/dashboard/keys")
    expect(page.locator(f'tr[data-key-id="{alice["id"]}"]')).to_be_visible()
    expect(page.locator("#count")).to_have_text("1 of 1 key")
    assert bob["prefix"] not in page.content()
    assert page.locator("#user-filter").count() == 0  # admins only

    status = page.evaluate("""async (id) => {
        const token = document.querySelector('meta[name="csrf-token"]').content;
        const read = await fetch('/admin/keys/' + id);
        const revoke = await fetch('/admin/keys/' + id + '/revoke',
                                   {method: 'POST', headers: {'X-CSRF-Token': token}});
        const users = await fetch('/admin/users');
        return [read.status, revoke.status, users.status];
    }""", bob["id"])
    assert status == [404, 404, 403]
    no_token = page.evaluate("""async () => (await fetch('/admin/keys', {method: 'POST',
        headers: {'Content-Type': 'application/json'}, body: '{}'})).status""")
    assert no_token == 403
    answer = requests.get(f"{site}/admin/keys/{bob['id']}", headers=bearer(bob["secret"]),
                          timeout=5).json()
    assert answer["state"] == "active"

    with app.app_context():  # the overview: its own usage only
        request_logs.insert_batch(
            [log_row(f"{who['email']}-{i}", api_key_id=who["id"], user_id=who["user_id"],
                     model=f"{who['email']}-model") for i, who in enumerate([alice, bob, bob])])
    page.click("nav >> text=Overview")
    expect(page.locator('[data-total="requests"]')).to_have_text("1")
    expect(page.locator("#top-model tbody")).to_contain_text("alice@example.com-model")
    assert "bob@example.com-model" not in page.inner_text("#top-model")
    assert "bob@example.com" not in page.inner_text("#top-user")
