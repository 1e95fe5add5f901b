"""The request-log explorer and the models page (Flask test client): shells that render for an
admin and a member, keep the explorer's filters in the URL, need a session, and give a member
an "admins only" page for the models (as GET /admin/models answers a member 403)."""
import pytest

from tests.conftest import log_row
from tests.dashboard_helpers import log_in, new_key


@pytest.fixture
def people(app):
    return {"admin": new_key(app, "root@example.com", role="admin", name="root"),
            "alice": new_key(app, "alice@example.com", name="alice-laptop")}


def logged_in(app, who):
    client = app.test_client()
    response, _ = log_in(client, who["secret"])
    assert response.status_code == 200
    return client


@pytest.mark.parametrize("who", ["admin", "alice"])
def test_the_explorer_renders_with_its_filters_from_the_query_string(app, people, who):
    client = logged_in(app, people[who])
    response = client.get("/dashboard/logs?status=5xx&model=gpt-test&request_id=%3Cx%3E")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'name="status" id="f-status" list="statuses" value="5xx"' in html
    assert 'value="gpt-test"' in html
    assert 'value="&lt;x&gt;"' in html and "<x>" not in html  # escaped
    assert "logs.js" in html and 'aria-current="page">Request logs</a>' in html
    assert ('name="user_id"' in html) is (who == "admin")  # a member's rows are its own anyway
    assert response.headers["Cache-Control"] == "no-store"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("who", ["admin", "alice"])
def test_a_requests_detail_page_renders(app, people, who):
    client = logged_in(app, people[who])
    response = client.get("/dashboard/logs/req_abc")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'data-request-id="req_abc"' in html and "log_detail.js" in html


def test_the_api_behind_the_explorer_holds_a_member_to_its_own_rows(app, people):
    from app.repositories import request_logs
    alice, admin = people["alice"], people["admin"]
    with app.app_context():
        request_logs.insert_batch([
            log_row("mine", api_key_id=alice["id"], user_id=alice["user_id"]),
            log_row("theirs", api_key_id=admin["id"], user_id=admin["user_id"])])
    client = logged_in(app, alice)
    ids = [r["request_id"] for r in client.get("/admin/logs").get_json()["data"]]
    assert ids == ["mine"]
    assert client.get("/admin/logs/theirs").status_code == 404
    assert logged_in(app, admin).get("/admin/logs/theirs").status_code == 200


def test_the_models_page_is_an_admins(app, people):
    response = logged_in(app, people["admin"]).get("/dashboard/models")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "models.js" in html and 'id="models"' in html and "Admins only" not in html

    response = logged_in(app, people["alice"]).get("/dashboard/models")
    assert response.status_code == 403
    html = response.get_data(as_text=True)
    assert "Admins only" in html and "models.js" not in html
    assert 'href="/dashboard/logs"' in html  # the nav, and a way on


@pytest.mark.parametrize("path", ["/dashboard/logs?status=429", "/dashboard/logs/req_1",
                                  "/dashboard/models"])
def test_the_pages_need_a_session(app, path):
    response = app.test_client().get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/dashboard/login?next=/dashboard/")
