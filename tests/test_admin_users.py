"""/admin/users: create, validation, paging and filters, changes, deactivation."""
import pytest

from tests.admin_helpers import (
    ADMIN_EMAIL,
    error_of,
    make_user,
)
from tests.conftest import create_key

pytest_plugins = ["tests.admin_fixtures"]  # admin, member, … fixtures


def test_create_returns_the_user_with_its_limits(admin):
    response = admin.post("/admin/users", {
        "email": " Alice@Example.COM ", "name": "Alice", "models": ["gpt-*", "claude-*"],
        "rpm": 10, "tpm": 1000, "max_parallel": 2, "max_budget_usd": 5.5,
        "budget_period": "monthly"})
    assert response.status_code == 201
    user = response.get_json()
    assert isinstance(user["id"], int)
    assert {k: v for k, v in user.items() if k not in ("id", "created_at")} == {
        "email": "alice@example.com", "name": "Alice", "role": "member", "active": True,
        "models": ["gpt-*", "claude-*"], "rpm": 10, "tpm": 1000, "max_parallel": 2,
        "max_budget_usd": "5.5", "budget_period": "monthly"}
    assert user["created_at"].endswith("Z")
    assert admin.get(f"/admin/users/{user['id']}").get_json() == user


def test_create_defaults_and_admin_role(admin):
    user = admin.post("/admin/users", {"email": "bob@example.com", "role": "admin"}).get_json()
    assert user["role"] == "admin" and user["name"] is None
    assert all(user[f] is None for f in ("models", "rpm", "tpm", "max_parallel",
                                         "max_budget_usd", "budget_period"))


def test_budget_accepts_a_decimal_string_without_losing_precision(admin):
    user = admin.post("/admin/users", {"email": "c@example.com",
                                       "max_budget_usd": "0.0000000123"}).get_json()
    assert user["max_budget_usd"] == "0.0000000123"
    user = admin.patch(f"/admin/users/{user['id']}", {"max_budget_usd": 0}).get_json()
    assert user["max_budget_usd"] == "0"


@pytest.mark.parametrize("body, param", [
    ({}, "email"),
    ({"email": "not-an-email"}, "email"),
    ({"email": 42}, "email"),
    ({"email": "a@example.com", "role": "owner"}, "role"),
    ({"email": "a@example.com", "rpm": 0}, "rpm"),
    ({"email": "a@example.com", "tpm": -5}, "tpm"),
    ({"email": "a@example.com", "max_parallel": 1.5}, "max_parallel"),
    ({"email": "a@example.com", "rpm": True}, "rpm"),
    ({"email": "a@example.com", "rpm": "10"}, "rpm"),
    ({"email": "a@example.com", "max_budget_usd": -1}, "max_budget_usd"),
    ({"email": "a@example.com", "max_budget_usd": "NaN"}, "max_budget_usd"),
    ({"email": "a@example.com", "max_budget_usd": "Infinity"}, "max_budget_usd"),
    ({"email": "a@example.com", "max_budget_usd": "lots"}, "max_budget_usd"),
    ({"email": "a@example.com", "max_budget_usd": 1e12}, "max_budget_usd"),
    ({"email": "a@example.com", "budget_period": "yearly"}, "budget_period"),
    ({"email": "a@example.com", "models": "gpt-4o"}, "models"),
    ({"email": "a@example.com", "models": []}, "models"),
    ({"email": "a@example.com", "models": ["gpt-4o", ""]}, "models"),
    ({"email": "a@example.com", "models": [1]}, "models"),
    ({"email": "a@example.com", "name": ["x"]}, "name"),
    ({"email": "a@example.com", "colour": "red", "zone": 1}, "colour"),
])
def test_create_rejects_bad_fields_naming_them(admin, body, param):
    response = admin.post("/admin/users", body)
    assert response.status_code == 400, response.get_json()
    error = error_of(response)
    assert error["type"] == "invalid_request_error" and error["param"] == param
    assert admin.get("/admin/users?q=a@example.com").get_json()["total"] == 0


def test_unknown_fields_are_all_named(admin):
    error = error_of(admin.post("/admin/users", {"email": "a@example.com", "zz": 1, "colour": 2}))
    assert error["code"] == "unknown_field" and "colour, zz" in error["message"]


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1, 2]"])
def test_body_must_be_a_json_object(admin, raw):
    response = admin.client.post("/admin/users", data=raw, headers=admin.headers())
    assert response.status_code == 400 and error_of(response)["code"] == "invalid_json"


def test_duplicate_email_is_409(admin):
    assert admin.post("/admin/users", {"email": "dup@example.com"}).status_code == 201
    response = admin.post("/admin/users", {"email": "DUP@example.com"})
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "conflict" and error["param"] == "email"
    other = admin.post("/admin/users", {"email": "other@example.com"}).get_json()
    response = admin.patch(f"/admin/users/{other['id']}", {"email": "dup@example.com"})
    assert response.status_code == 409
    assert admin.get(f"/admin/users/{other['id']}").get_json()["email"] == "other@example.com"


def test_paging_and_filters(app, admin, admin_id):
    for i in range(7):
        make_user(app, f"user{i}@example.com")
    make_user(app, "zed@corp.test", role="admin")
    with app.app_context():
        from app.repositories import users as user_repo
        user_repo.update(user_repo.get_by_email("user3@example.com"), {"active": False,
                                                                       "name": "Charlie"})
    everyone = admin.get("/admin/users").get_json()
    assert everyone["total"] == 9 and everyone["limit"] == 50 and everyone["offset"] == 0
    ids = [u["id"] for u in everyone["data"]]
    assert ids == sorted(ids) and ids[0] == admin_id

    page = admin.get("/admin/users?limit=3&offset=3").get_json()
    assert page["total"] == 9 and page["limit"] == 3 and page["offset"] == 3
    assert [u["id"] for u in page["data"]] == ids[3:6]
    assert admin.get("/admin/users?limit=3&offset=9").get_json()["data"] == []

    admins = admin.get("/admin/users?role=admin").get_json()
    assert {u["email"] for u in admins["data"]} == {ADMIN_EMAIL, "zed@corp.test"}
    inactive = admin.get("/admin/users?active=false").get_json()
    assert [u["email"] for u in inactive["data"]] == ["user3@example.com"]
    assert admin.get("/admin/users?active=true").get_json()["total"] == 8
    assert admin.get("/admin/users?q=CORP.test").get_json()["total"] == 1
    assert [u["email"] for u in admin.get("/admin/users?q=charl").get_json()["data"]] == [
        "user3@example.com"]  # q matches the name too
    assert admin.get("/admin/users?q=user&active=true&limit=2").get_json()["total"] == 6
    assert admin.get("/admin/users?q=%25").get_json()["total"] == 0  # % is literal


@pytest.mark.parametrize("query, param", [
    ("limit=0", "limit"), ("limit=501", "limit"), ("limit=x", "limit"), ("offset=-1", "offset"),
    ("role=boss", "role"), ("active=maybe", "active")])
def test_bad_query_arguments_are_400(admin, query, param):
    response = admin.get(f"/admin/users?{query}")
    assert response.status_code == 400 and error_of(response)["param"] == param


def test_get_unknown_user_is_404(admin):
    response = admin.get("/admin/users/999999")
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"


def test_patch_changes_only_what_is_given_and_null_clears(admin):
    user = admin.post("/admin/users", {"email": "p@example.com", "rpm": 5, "tpm": 50,
                                       "models": ["gpt-*"]}).get_json()
    response = admin.patch(f"/admin/users/{user['id']}", {"name": "Pat", "rpm": None,
                                                         "role": "admin", "max_parallel": 3})
    assert response.status_code == 200
    after = admin.get(f"/admin/users/{user['id']}").get_json()
    assert after == {**user, "name": "Pat", "rpm": None, "role": "admin", "max_parallel": 3}
    response = admin.patch(f"/admin/users/{user['id']}", {"email": "x"})
    assert response.status_code == 400 and error_of(response)["param"] == "email"
    response = admin.patch(f"/admin/users/{user['id']}", {"id": 5})
    assert response.status_code == 400 and error_of(response)["param"] == "id"
    assert admin.patch("/admin/users/999999", {"name": "x"}).status_code == 404


def test_deactivate_stops_every_key_of_the_user_at_once(app, admin, member, member_id):
    second = create_key(app, "member@example.com")
    assert member.chat() == 200 and member.chat(second) == 200  # both now cached
    response = admin.delete(f"/admin/users/{member_id}")
    assert response.status_code == 200 and response.get_json()["active"] is False
    assert member.chat() == 401 and member.chat(second) == 401
    assert error_of(member.get("/admin/keys"))["code"] == "inactive_user"
    assert admin.delete(f"/admin/users/{member_id}").status_code == 200  # idempotent
    admin.patch(f"/admin/users/{member_id}", {"active": True})
    assert member.chat() == 200


def test_role_change_takes_effect_at_once(admin, member, member_id):
    assert member.get("/admin/users").status_code == 403
    admin.patch(f"/admin/users/{member_id}", {"role": "admin"})
    assert member.get("/admin/users").status_code == 200
    admin.patch(f"/admin/users/{member_id}", {"role": "member"})
    assert member.get("/admin/users").status_code == 403


def test_an_admin_cannot_lock_itself_out(admin, admin_id):
    for call in (lambda: admin.delete(f"/admin/users/{admin_id}"),
                 lambda: admin.patch(f"/admin/users/{admin_id}", {"active": False}),
                 lambda: admin.patch(f"/admin/users/{admin_id}", {"role": "member"})):
        response = call()
        assert response.status_code == 400 and error_of(response)["code"] == "self_lockout"
    assert admin.get(f"/admin/users/{admin_id}").get_json()["role"] == "admin"
    assert admin.patch(f"/admin/users/{admin_id}", {"name": "Root"}).status_code == 200
