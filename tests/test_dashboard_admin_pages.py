"""The key, users, projects and usage pages (Flask test client): shells that need a session,
render for an admin and a member (users and projects: an "admins only" page, 403, for a member),
appear in the navigation and carry the scripts that call the admin API."""
import pytest

from tests.dashboard_helpers import csrf_of, log_in, new_key

PAGES = ("/dashboard/usage", "/dashboard/users", "/dashboard/projects", "/dashboard/keys/1")


@pytest.fixture
def people(app):
    return {"admin": new_key(app, "root@example.com", role="admin", name="root"),
            "alice": new_key(app, "alice@example.com", name="alice-laptop")}


def logged_in(app, who):
    client = app.test_client()
    response, _ = log_in(client, who["secret"])
    assert response.status_code == 200
    return client


@pytest.mark.parametrize("path", PAGES)
def test_every_page_needs_a_session(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/dashboard/login?next={path}"


@pytest.mark.parametrize(("path", "script"), [("/dashboard/users", "users.js"),
                                              ("/dashboard/projects", "projects.js"),
                                              ("/dashboard/usage", "usage.js")])
def test_an_admin_gets_the_pages_and_their_navigation(app, people, path, script):
    response = logged_in(app, people["admin"]).get(path)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert script in html
    assert ("limits.js" in html) is (script != "usage.js")
    assert 'aria-current="page"' in html
    for link in ("/dashboard/usage", "/dashboard/users", "/dashboard/projects"):
        assert f'href="{link}"' in html
    assert response.headers["Cache-Control"] == "no-store"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert csrf_of(response)


@pytest.mark.parametrize("path", ["/dashboard/users", "/dashboard/projects"])
def test_a_member_gets_an_admins_only_page(app, people, path):
    response = logged_in(app, people["alice"]).get(path)
    assert response.status_code == 403
    html = response.get_data(as_text=True)
    assert 'id="admins-only"' in html and "Admins only" in html
    assert "users.js" not in html and "projects.js" not in html
    assert 'href="/dashboard/users"' not in html  # not in a member's navigation


def test_a_members_usage_page_is_its_own(app, people):
    response = logged_in(app, people["alice"]).get("/dashboard/usage?key_id=3")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "usage.js" in html and "chart.umd.min.js" in html
    assert "Your own keys" in html
    assert 'id="user-filter"' not in html and 'value="user"' not in html  # admins only
    assert 'href="/dashboard/usage"' in html and 'href="/dashboard/users"' not in html


@pytest.mark.parametrize("who", ["admin", "alice"])
def test_a_keys_page_renders_its_forms_for_the_api(app, people, who):
    key_id = people[who]["id"]
    response = logged_in(app, people[who]).get(f"/dashboard/keys/{key_id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'data-key-id="{key_id}"' in html and "key.js" in html and "limits.js" in html
    for field in ("rpm", "tpm", "max_parallel", "max_budget_usd", "budget_period", "models",
                  "expires", "project_id"):
        assert f'name="{field}"' in html
    assert 'id="rotate"' in html and 'id="revoke"' in html and 'id="chart-burn"' in html
    assert f'href="/dashboard/usage?key_id={key_id}"' in html
    assert ("only tighten" in html) is (who == "alice")
    assert people[who]["secret"] not in html


def test_another_users_key_page_is_a_shell_the_api_refuses(app, people):
    client = logged_in(app, people["alice"])
    assert client.get(f"/dashboard/keys/{people['admin']['id']}").status_code == 200
    assert client.get(f"/admin/keys/{people['admin']['id']}").status_code == 404
    assert client.get("/dashboard/keys/abc").status_code == 404
