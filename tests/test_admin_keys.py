"""/admin/keys: secrets shown once, revoke/rotate/patch effective at once, filters, the member
ceiling."""
from datetime import datetime, timedelta

import pytest

from app.models import utcnow
from tests.admin_helpers import (
    MASTER_KEY,
    MEMBER_EMAIL,
    Api,
    error_of,
    key_row,
    make_user,
    sha256,
    stored_hashes,
)

pytest_plugins = ["tests.admin_fixtures"]  # admin, member, … fixtures

LIMITS = ("models", "rpm", "tpm", "max_parallel", "max_budget_usd", "budget_period")


def test_create_shows_the_secret_once_and_stores_only_its_hash(app, admin, member_id):
    response = admin.post("/admin/keys", {"user_id": member_id, "name": "laptop", "rpm": 100,
                                          "models": ["mock-*"], "max_budget_usd": 2})
    assert response.status_code == 201
    created = response.get_json()
    secret = created.pop("key")
    assert secret.startswith("sk-gw-") and len(secret) > 40
    assert created["prefix"] == secret[:12] and created["user_id"] == member_id
    assert created["user_email"] == MEMBER_EMAIL and created["state"] == "active"
    assert created["name"] == "laptop" and created["max_budget_usd"] == "2"
    assert created["revoked_at"] is None and created["last_used_at"] is None

    shown = admin.get(f"/admin/keys/{created['id']}")
    assert shown.get_json() == created
    listed = admin.get("/admin/keys").get_json()["data"]
    for text in (shown.get_data(as_text=True), str(listed)):
        assert secret not in text and sha256(secret) not in text and "key_hash" not in text
    assert sha256(secret) in stored_hashes(app)
    row = key_row(app, created["id"])
    assert row.key_hash == sha256(secret)
    assert secret not in {str(getattr(row, c.name)) for c in row.__table__.columns}

    assert Api(admin.client).chat(secret) == 200


def test_defaults_to_the_callers_own_user_and_master_needs_one(app, app_factory, admin,
                                                               admin_id):
    key = admin.post("/admin/keys", {}).get_json()
    assert key["user_id"] == admin_id and all(key[f] is None for f in LIMITS)
    assert key["expires_at"] is None

    master_app = app_factory(GATEWAY_MASTER_KEY=MASTER_KEY)
    master = Api(master_app.test_client(), MASTER_KEY)
    response = master.post("/admin/keys", {"user_email": "ROOT@example.com"})
    assert response.status_code == 201 and response.get_json()["user_id"] == admin_id
    for body in ({"user_email": "ghost@example.com"}, {"user_id": 999999},
                 {"user_id": admin_id, "user_email": "member@example.com"}):
        response = master.post("/admin/keys", body)
        assert response.status_code == 400 and error_of(response)["code"] == "unknown_user"


def test_no_keys_for_a_deactivated_user(admin, member_id):
    admin.delete(f"/admin/users/{member_id}")
    response = admin.post("/admin/keys", {"user_id": member_id})
    assert response.status_code == 400 and error_of(response)["code"] == "inactive_user"


def test_expiry(admin):
    before = utcnow()
    key = admin.post("/admin/keys", {"expires_in": "12h"}).get_json()
    expires = datetime.fromisoformat(key["expires_at"].rstrip("Z"))
    assert timedelta(hours=12) - timedelta(seconds=2) <= expires - before <= timedelta(hours=12,
                                                                                      seconds=2)
    key = admin.post("/admin/keys", {"expires_at": "2031-05-01T12:00:00+02:00"}).get_json()
    assert key["expires_at"] == "2031-05-01T10:00:00Z"
    cleared = admin.patch(f"/admin/keys/{key['id']}", {"expires_at": None}).get_json()
    assert cleared["expires_at"] is None
    for body, param in (({"expires_in": "soon"}, "expires_in"), ({"expires_in": "0d"},
                                                                 "expires_in"),
                        ({"expires_at": "tomorrow"}, "expires_at"),
                        ({"expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
                        ({"expires_at": "2031-01-01", "expires_in": "1d"}, "expires_in")):
        response = admin.post("/admin/keys", body)
        assert response.status_code == 400 and error_of(response)["param"] == param, body


def test_revoke_takes_effect_at_once(admin, member):
    key = member.post("/admin/keys", {"name": "ci"}).get_json()
    assert member.chat(key["key"]) == 200  # authenticated, so cached in this worker
    response = member.post(f"/admin/keys/{key['id']}/revoke")
    assert response.status_code == 200
    assert response.get_json()["state"] == "revoked" and response.get_json()["revoked_at"]
    assert member.chat(key["key"]) == 401
    assert member.post(f"/admin/keys/{key['id']}/revoke").status_code == 200  # idempotent
    response = member.patch(f"/admin/keys/{key['id']}", {"name": "x"})
    assert response.status_code == 400 and error_of(response)["code"] == "key_revoked"


def test_rotate_replaces_the_secret_and_keeps_the_rest(app, admin, member_id):
    project = admin.post("/admin/projects", {"name": "p"}).get_json()["id"]
    admin.post(f"/admin/projects/{project}/members", {"user_id": member_id})
    old = admin.post("/admin/keys", {"user_id": member_id, "name": "svc", "project_id": project,
                                     "rpm": 7, "models": ["mock-echo"], "max_budget_usd": "3",
                                     "budget_period": "daily", "expires_in": "30d"}).get_json()
    assert admin.chat(old["key"]) == 200
    response = admin.post(f"/admin/keys/{old['id']}/rotate")
    assert response.status_code == 201
    new = response.get_json()
    assert new["rotated_from"] == old["id"] and new["id"] != old["id"]
    assert new["key"] != old["key"] and new["prefix"] == new["key"][:12]
    same = ("name", "user_id", "project_id", "expires_at", *LIMITS)
    assert {f: new[f] for f in same} == {f: old[f] for f in same}
    assert admin.chat(old["key"]) == 401 and admin.chat(new["key"]) == 200
    assert admin.get(f"/admin/keys/{old['id']}").get_json()["state"] == "revoked"
    assert "key" not in admin.get(f"/admin/keys/{new['id']}").get_json()

    response = admin.post(f"/admin/keys/{old['id']}/rotate")
    assert response.status_code == 400 and error_of(response)["code"] == "key_revoked"
    response = admin.post(f"/admin/keys/{new['id']}/rotate", {"expires_in": "1h"})
    assert response.status_code == 201
    assert response.get_json()["expires_at"] != new["expires_at"]


def test_rotating_an_expired_key_needs_a_new_expiry(app, admin, admin_id):
    with app.app_context():
        from app.repositories import keys as key_repo
        from app.repositories import users as user_repo
        key, _ = key_repo.create(user_repo.get(admin_id), expires_at=utcnow() - timedelta(hours=1))
        key_id = key.id
    response = admin.post(f"/admin/keys/{key_id}/rotate")
    assert response.status_code == 400 and error_of(response)["param"] == "expires_at"
    response = admin.post(f"/admin/keys/{key_id}/rotate", {"expires_in": "7d"})
    assert response.status_code == 201 and admin.chat(response.get_json()["key"]) == 200


def test_patch_limits_show_in_get_and_apply_at_once(admin, member_id):
    key = admin.post("/admin/keys", {"user_id": member_id, "name": "k"}).get_json()
    assert admin.chat(key["key"]) == 200
    changes = {"name": "renamed", "models": ["gpt-*"], "rpm": 60, "tpm": 6000,
               "max_parallel": 4, "max_budget_usd": 12.5, "budget_period": "weekly"}
    response = admin.patch(f"/admin/keys/{key['id']}", changes)
    assert response.status_code == 200
    expected = {**changes, "max_budget_usd": "12.5"}
    got = admin.get(f"/admin/keys/{key['id']}").get_json()
    assert {f: got[f] for f in expected} == expected
    assert admin.chat(key["key"]) == 403  # mock-echo is outside the new allowlist, at once
    admin.patch(f"/admin/keys/{key['id']}", {"models": None, "rpm": None})
    got = admin.get(f"/admin/keys/{key['id']}").get_json()
    assert got["models"] is None and got["rpm"] is None and got["tpm"] == 6000
    assert admin.chat(key["key"]) == 200
    for body, param in (({"rpm": 0}, "rpm"), ({"models": []}, "models"),
                        ({"user_id": 1}, "user_id"), ({"key": "sk-gw-x"}, "key")):
        response = admin.patch(f"/admin/keys/{key['id']}", body)
        assert response.status_code == 400 and error_of(response)["param"] == param


def test_list_paging_and_filters(app, admin, admin_id, member_id):
    other = make_user(app, "other@example.com")
    project = admin.post("/admin/projects", {"name": "p", "owner_id": other}).get_json()["id"]
    ids = [admin.post("/admin/keys", {"user_id": member_id}).get_json()["id"] for _ in range(4)]
    in_project = admin.post("/admin/keys", {"user_id": other, "project_id": project}).get_json()
    admin.post(f"/admin/keys/{ids[0]}/revoke")
    with app.app_context():
        from app.repositories import keys as key_repo
        key_repo.update_fields(key_repo.get(ids[1]), {"expires_at": utcnow() - timedelta(1)})

    everything = admin.get("/admin/keys").get_json()
    assert everything["total"] == 6  # the admin fixture's key, 4 of member, 1 of other
    all_ids = [k["id"] for k in everything["data"]]
    assert all_ids == sorted(all_ids)
    page = admin.get("/admin/keys?limit=2&offset=1").get_json()
    assert [k["id"] for k in page["data"]] == all_ids[1:3]
    assert (page["total"], page["limit"], page["offset"]) == (6, 2, 1)

    def ids_of(query):
        return [k["id"] for k in admin.get(f"/admin/keys?{query}").get_json()["data"]]

    assert ids_of(f"user_id={member_id}") == ids
    assert ids_of(f"user_id={other}") == [in_project["id"]]
    assert ids_of(f"project_id={project}") == [in_project["id"]]
    assert ids_of("state=revoked") == [ids[0]]
    assert ids_of(f"state=expired&user_id={member_id}") == [ids[1]]
    assert ids_of(f"state=active&user_id={member_id}") == ids[2:]
    states = {k["id"]: k["state"] for k in everything["data"]}
    assert (states[ids[0]], states[ids[1]], states[ids[2]]) == ("revoked", "expired", "active")
    for query, param in (("state=dead", "state"), ("user_id=abc", "user_id"),
                         ("project_id=0", "project_id"), ("limit=1000", "limit")):
        response = admin.get(f"/admin/keys?{query}")
        assert response.status_code == 400 and error_of(response)["param"] == param


# --- the member ceiling --------------------------------------------------------------------------

@pytest.fixture
def limited(app, admin, member, member_id):
    """The member's user: rpm 10, models gpt-* and mock-*, $5 a month."""
    response = admin.patch(f"/admin/users/{member_id}", {
        "rpm": 10, "models": ["gpt-*", "mock-*"], "max_budget_usd": 5,
        "budget_period": "monthly"})
    assert response.status_code == 200
    return member


@pytest.mark.parametrize("body, param", [
    ({"rpm": 20}, "rpm"),
    ({"rpm": None}, "rpm"),
    ({"models": ["*"]}, "models"),
    ({"models": ["gpt-4o", "claude-*"]}, "models"),
    ({"models": None}, "models"),
    ({"max_budget_usd": 6}, "max_budget_usd"),
    ({"max_budget_usd": None}, "max_budget_usd"),
    ({"budget_period": "daily"}, "budget_period"),
    ({"budget_period": None}, "budget_period"),
])
def test_member_cannot_exceed_its_users_limits(limited, body, param):
    response = limited.post("/admin/keys", body)
    assert response.status_code == 403, response.get_json()
    error = error_of(response)
    assert error["type"] == "permission_error" and error["param"] == param
    assert error["code"] == "exceeds_user_limit"


def test_member_key_inherits_the_users_limits(limited):
    response = limited.post("/admin/keys", {"name": "default"})
    assert response.status_code == 201
    key = response.get_json()
    assert key["rpm"] == 10 and key["models"] == ["gpt-*", "mock-*"]
    assert key["max_budget_usd"] == "5" and key["budget_period"] == "monthly"
    assert key["tpm"] is None and key["max_parallel"] is None  # the user has no such limit
    assert limited.chat(key["key"]) == 200


def test_member_key_within_limits(limited):
    response = limited.post("/admin/keys", {"rpm": 5, "models": ["gpt-4o-mini", "mock-echo"],
                                            "max_budget_usd": "4.99", "tpm": 100000,
                                            "max_parallel": 3, "budget_period": "monthly"})
    assert response.status_code == 201, response.get_json()
    key = response.get_json()
    assert (key["rpm"], key["models"], key["max_budget_usd"], key["tpm"]) == (
        5, ["gpt-4o-mini", "mock-echo"], "4.99", 100000)
    assert limited.post("/admin/keys", {"rpm": 10, "models": ["gpt-*"]}).status_code == 201


def test_member_patch_stays_within_the_ceiling(limited):
    key = limited.post("/admin/keys", {"rpm": 5}).get_json()
    response = limited.patch(f"/admin/keys/{key['id']}", {"rpm": 11})
    assert response.status_code == 403 and error_of(response)["param"] == "rpm"
    response = limited.patch(f"/admin/keys/{key['id']}", {"models": ["claude-*"]})
    assert response.status_code == 403 and error_of(response)["param"] == "models"
    response = limited.patch(f"/admin/keys/{key['id']}", {"rpm": 8, "tpm": 50})
    assert response.status_code == 200
    assert (response.get_json()["rpm"], response.get_json()["tpm"]) == (8, 50)
    assert limited.get(f"/admin/keys/{key['id']}").get_json()["rpm"] == 8


def test_admin_is_not_bound_by_the_users_ceiling(admin, limited, member_id):
    response = admin.post("/admin/keys", {"user_id": member_id, "rpm": 1000, "models": None})
    assert response.status_code == 201
    assert response.get_json()["rpm"] == 1000 and response.get_json()["models"] is None


def test_unlimited_user_lets_members_choose(member):
    response = member.post("/admin/keys", {"rpm": 99999, "models": ["*"]})
    assert response.status_code == 201
    key = response.get_json()
    assert key["rpm"] == 99999 and key["models"] == ["*"] and key["max_budget_usd"] is None
