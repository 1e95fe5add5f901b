"""The key, users, projects and usage pages in a real browser (Playwright driving Debian's
Chromium, as tests/test_dashboard_browser.py does): what each page changes is read back through
the REST API with a Bearer key."""
import csv
from datetime import timedelta
from decimal import Decimal

import requests
from playwright.sync_api import expect

from app.models import utcnow
from app.repositories import request_logs
from tests.conftest import log_row
from tests.dashboard_helpers import bearer, new_key


def log_in(page, who, path):
    page.goto(path)
    page.fill("#key", who["secret"])
    page.click("#login button[type=submit]")
    page.wait_for_url(f"**{path}")


def api(site, who, path):
    response = requests.get(f"{site}{path}", headers=bearer(who["secret"]), timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def test_an_admin_changes_a_keys_limits_and_sees_its_budget_burn_down(app, page, site):
    admin = new_key(app, "root@example.com", role="admin", name="root")
    target = new_key(app, "alice@example.com", name="alice-ci", max_budget_usd=Decimal(1),
                     budget_period="daily")
    now = utcnow()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    with app.app_context():  # spent today (UTC): in the daily window whatever the time
        request_logs.insert_batch([log_row(f"spend-{i}", created_at=max(
            now - timedelta(seconds=2), today), api_key_id=target["id"],
            user_id=target["user_id"], cost_usd=Decimal("0.25")) for i in range(2)])
    log_in(page, admin, "/dashboard/keys")
    page.click(f'tr[data-key-id="{target["id"]}"] a')
    page.wait_for_url(f"**/dashboard/keys/{target['id']}")
    expect(page.locator("#key-title")).to_have_text(target["prefix"] + "…")
    expect(page.locator('#key-form [name="max_budget_usd"]')).to_have_value("1")

    page.fill('#key-form [name="rpm"]', "42")
    page.fill('#key-form [name="models"]', "gpt-4o*, claude-*")
    page.fill('#key-form [name="expires"]', "30d")
    page.click("#key-form button[type=submit]")
    expect(page.locator("#saved")).to_be_visible()
    expect(page.locator('[data-fact="limits"]')).to_contain_text("rpm 42")
    key = api(site, admin, f"/admin/keys/{target['id']}")
    assert key["rpm"] == 42 and key["models"] == ["gpt-4o*", "claude-*"]
    assert key["expires_at"] is not None and key["max_budget_usd"] == "1"

    page.wait_for_function("() => Dashboard.charts['chart-burn']")
    spent, budget = page.evaluate(
        "Dashboard.charts['chart-burn'].data.datasets.map(d => d.data)")
    assert len(spent) == 24 and [v for v in spent if v is not None][-1] == 0.5
    assert budget == [1] * 24
    expect(page.locator("#burn-summary")).to_contain_text("Spent $0.5000 today")
    expect(page.locator("#burn-summary")).to_contain_text("of a $1 daily budget")


def test_rotating_a_key_shows_the_new_secret_once(app, page, site):
    admin = new_key(app, "root@example.com", role="admin", name="root")
    old = new_key(app, "alice@example.com", name="alice-ci", rpm=7, max_budget_usd=Decimal(3))
    log_in(page, admin, f"/dashboard/keys/{old['id']}")
    expect(page.locator('[data-fact="state"]')).to_have_text("active")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#rotate")
    expect(page.locator("#secret-box")).to_be_visible()
    secret = page.inner_text("#secret")
    assert secret.startswith("sk-gw-") and secret != old["secret"]
    expect(page.locator('[data-fact="state"]')).to_have_text("revoked")
    assert requests.get(f"{site}/v1/models", headers=bearer(secret), timeout=5).status_code == 200
    assert requests.get(f"{site}/v1/models", headers=bearer(old["secret"]),
                        timeout=5).status_code == 401

    page.click("#new-key-link")
    page.wait_for_url("**/dashboard/keys/*")
    expect(page.locator("#key-title")).to_have_text(secret[:len(old["prefix"])] + "…")
    expect(page.locator('[data-fact="limits"]')).to_contain_text("rpm 7")  # kept
    expect(page.locator("#secret-box")).to_be_hidden()
    assert secret not in page.content()
    expect(page.locator("#burn-summary")).to_have_text(
        "Spent $0.0000 since this key was created of a $3 lifetime budget.")
    page.go_back()
    expect(page.locator('[data-fact="state"]')).to_have_text("revoked")
    assert secret not in page.content()  # shown once: the API never returns it again


def test_a_member_may_tighten_but_not_loosen_an_admin_set_limit(app, page, site):
    alice = new_key(app, "alice@example.com", name="alice-laptop", rpm=10,
                    admin_limits={"rpm": 10})
    log_in(page, alice, f"/dashboard/keys/{alice['id']}")
    rpm = page.locator('#key-form [name="rpm"]')
    expect(rpm).to_have_value("10")
    rpm.fill("100")
    page.click("#key-form button[type=submit]")
    expect(page.locator("#error")).to_have_text(
        "An admin fixed `rpm` of this key at 10; you may only tighten it.")
    assert api(site, alice, f"/admin/keys/{alice['id']}")["rpm"] == 10

    rpm.fill("5")
    page.click("#key-form button[type=submit]")
    expect(page.locator("#saved")).to_be_visible()
    expect(page.locator("#error")).to_be_hidden()
    assert api(site, alice, f"/admin/keys/{alice['id']}")["rpm"] == 5

    assert page.locator('nav a[href="/dashboard/users"]').count() == 0
    page.goto("/dashboard/users")
    expect(page.locator("#admins-only")).to_contain_text("Admins only")


def test_an_admin_creates_a_user_and_a_project_and_adds_a_member(app, page, site):
    admin = new_key(app, "root@example.com", role="admin", name="root")
    eve = new_key(app, "eve@example.com", name="eve-laptop")
    log_in(page, admin, "/dashboard/users")
    form = page.locator("#create-user")
    form.locator('[name="email"]').fill("carol@example.com")
    form.locator('[name="name"]').fill("Carol")
    form.locator('[name="rpm"]').fill("30")
    form.locator("button[type=submit]").click()
    row = page.locator("#users tbody tr", has_text="carol@example.com")
    expect(row).to_contain_text("rpm 30")
    carol = api(site, admin, "/admin/users?q=carol")["data"][0]
    assert (carol["name"], carol["role"], carol["rpm"]) == ("Carol", "member", 30)

    row.locator("button.edit").click()
    page.fill('#edit-user [name="tpm"]', "1000")
    page.click("#edit-user button[type=submit]")
    expect(row).to_contain_text("tpm 1000")
    assert api(site, admin, f"/admin/users/{carol['id']}")["tpm"] == 1000

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#users tbody tr", has_text="eve@example.com").locator(
        "button.deactivate").click()
    expect(page.locator("#users tbody tr", has_text="eve@example.com")).to_have_count(0)
    assert api(site, admin, f"/admin/users/{eve['user_id']}")["active"] is False
    assert requests.get(f"{site}/v1/models", headers=bearer(eve["secret"]),
                        timeout=5).status_code == 401

    page.click('nav a[href="/dashboard/projects"]')
    form = page.locator("#create-project")
    form.locator('[name="name"]').fill("Apollo")
    form.locator('[name="max_budget_usd"]').fill("50")
    form.locator('[name="budget_period"]').select_option("monthly")
    form.locator("button[type=submit]").click()
    expect(page.locator("#project-name")).to_have_text("Apollo")
    page.fill('#add-member [name="user_email"]', "carol@example.com")
    page.click("#add-member button[type=submit]")
    expect(page.locator("#members tbody")).to_contain_text("carol@example.com")
    page.fill('#edit-project [name="rpm"]', "100")
    page.click("#edit-project button[type=submit]")
    expect(page.locator("#projects tbody tr", has_text="Apollo")).to_contain_text("rpm 100")
    project = api(site, admin, "/admin/projects?q=Apollo")["data"][0]
    project = api(site, admin, f"/admin/projects/{project['id']}")
    assert [m["email"] for m in project["members"]] == ["carol@example.com"]
    assert (project["rpm"], project["max_budget_usd"], project["budget_period"]) == (
        100, "50", "monthly")


def test_the_usage_page_draws_a_chart_and_exports_the_table_as_csv(app, page, site, tmp_path):
    admin = new_key(app, "root@example.com", role="admin", name="root")
    other = new_key(app, "alice@example.com", name="alice-ci")
    now = utcnow()
    models = ["gpt-test"] * 3 + ["claude-test"] * 2 + ["mini, \"quoted\""]
    rows = [log_row(f"u-{i}", created_at=now - timedelta(days=i % 3, minutes=1),
                    api_key_id=(admin if i % 2 else other)["id"],
                    user_id=(admin if i % 2 else other)["user_id"], model=model,
                    status_code=500 if i == 1 else 200, input_tokens=10 * (i + 1),
                    output_tokens=i + 1, cost_usd=Decimal("0.0125") * (i + 1))
            for i, model in enumerate(models)]
    with app.app_context():
        request_logs.insert_batch(rows)
    log_in(page, admin, "/dashboard/usage")
    expect(page.locator('[data-total="requests"]')).to_have_text("6")
    expect(page.locator('[data-total="errors"]')).to_have_text("1")
    page.wait_for_function("() => Dashboard.charts['chart-usage']")
    chart = page.evaluate("""(() => { const c = Dashboard.charts['chart-usage'];
        return {labels: c.data.labels, requests: c.data.datasets[0].data}; })()""")
    assert dict(zip(chart["labels"], chart["requests"], strict=True)) == {
        "gpt-test": 3, "claude-test": 2, 'mini, "quoted"': 1}
    assert blue_pixels(page, "chart-usage") > 100  # the bars are drawn, not only the axes
    assert_csv_matches_table(page, tmp_path)

    page.select_option("#group-by", "day")
    page.wait_for_function(
        "() => Dashboard.charts['chart-usage'].data.labels.every(l => /^\\d{4}-/.test(l))")
    days = [(now - timedelta(days=d, minutes=1)).date().isoformat() for d in (2, 1, 0)]
    assert page.evaluate("Dashboard.charts['chart-usage'].data.labels") == days
    page.fill("#key-filter", str(other["id"]))
    page.click("#report button[type=submit]")
    expect(page.locator('[data-total="requests"]')).to_have_text("3")
    assert "key_id=" in page.url
    assert_csv_matches_table(page, tmp_path)


def assert_csv_matches_table(page, tmp_path):
    with page.expect_download() as info:
        page.click("#export")
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    with open(path, newline="") as handle:
        exported = list(csv.reader(handle))
    assert exported[0] == ["group", "id", "requests", "errors", "input_tokens", "output_tokens",
                           "cached_tokens", "cost_usd"]
    table = page.evaluate("""[...document.querySelectorAll('#usage tbody tr')].map(
        tr => [...tr.querySelectorAll('td')].map(td => td.textContent))""")
    assert exported[1:] == table and len(table) >= 1


def blue_pixels(page, canvas_id):
    return page.evaluate("""(id) => {
        const canvas = document.getElementById(id);
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let n = 0;
        for (let i = 0; i < data.length; i += 4) {
            if (Math.abs(data[i] - 78) < 8 && Math.abs(data[i + 1] - 121) < 8
                && Math.abs(data[i + 2] - 167) < 8 && data[i + 3] > 200) n++;
        }
        return n;
    }""", canvas_id)
