"""/admin/projects: create, list, read, change, members; keys bound to projects."""
import pytest

from tests.admin_helpers import (
    error_of,
    make_user,
)

pytest_plugins = ["tests.admin_fixtures"]  # admin, member, … fixtures


def test_create_get_and_patch(admin, admin_id):
    response = admin.post("/admin/projects", {
        "name": "search", "description": "Semantic search", "owner_id": admin_id,
        "max_budget_usd": "100.25", "budget_period": "weekly", "models": ["gpt-*"]})
    assert response.status_code == 201
    project = response.get_json()
    assert project["name"] == "search" and project["owner_id"] == admin_id
    assert project["max_budget_usd"] == "100.25" and project["members"] == []
    assert project["rpm"] is None and project["created_at"].endswith("Z")
    assert admin.get(f"/admin/projects/{project['id']}").get_json() == project

    changed = admin.patch(f"/admin/projects/{project['id']}", {
        "description": None, "owner_id": None, "rpm": 30, "name": "search-v2"}).get_json()
    assert changed == {**project, "description": None, "owner_id": None, "rpm": 30,
                       "name": "search-v2"}
    assert admin.get(f"/admin/projects/{project['id']}").get_json() == changed


@pytest.mark.parametrize("body, param, status", [
    ({}, "name", 400),
    ({"name": "  "}, "name", 400),
    ({"name": "x", "owner_id": 999999}, "owner_id", 400),
    ({"name": "x", "owner_id": "1"}, "owner_id", 400),
    ({"name": "x", "tpm": 0}, "tpm", 400),
    ({"name": "x", "members": []}, "members", 400),
    ({"name": "taken"}, "name", 409),
])
def test_create_rejects(admin, body, param, status):
    assert admin.post("/admin/projects", {"name": "taken"}).status_code == 201
    response = admin.post("/admin/projects", body)
    assert response.status_code == status, response.get_json()
    assert error_of(response)["param"] == param
    assert admin.get("/admin/projects").get_json()["total"] == 1


def test_rename_onto_a_taken_name_is_409(admin):
    admin.post("/admin/projects", {"name": "one"})
    two = admin.post("/admin/projects", {"name": "two"}).get_json()
    response = admin.patch(f"/admin/projects/{two['id']}", {"name": "one"})
    assert response.status_code == 409 and error_of(response)["code"] == "conflict"
    assert admin.get(f"/admin/projects/{two['id']}").get_json()["name"] == "two"


def test_paging_and_q(admin):
    ids = [admin.post("/admin/projects", {"name": name}).get_json()["id"]
           for name in ("Alpha", "beta", "gamma", "alphabet", "delta")]
    listing = admin.get("/admin/projects").get_json()
    assert listing["total"] == 5 and [p["id"] for p in listing["data"]] == ids
    assert "members" not in listing["data"][0]
    page = admin.get("/admin/projects?limit=2&offset=2").get_json()
    assert [p["name"] for p in page["data"]] == ["gamma", "alphabet"]
    assert page["total"] == 5 and page["limit"] == 2 and page["offset"] == 2
    found = admin.get("/admin/projects?q=ALPHA").get_json()
    assert [p["name"] for p in found["data"]] == ["Alpha", "alphabet"] and found["total"] == 2
    assert admin.get("/admin/projects?q=zzz").get_json() == {"data": [], "total": 0,
                                                            "limit": 50, "offset": 0}


def test_unknown_project_is_404(admin):
    assert admin.get("/admin/projects/424242").status_code == 404
    assert admin.patch("/admin/projects/424242", {"rpm": 1}).status_code == 404
    assert admin.post("/admin/projects/424242/members", {"user_id": 1}).status_code == 404


def test_members_add_and_remove(app, admin, member_id):
    other = make_user(app, "other@example.com")
    project = admin.post("/admin/projects", {"name": "p"}).get_json()
    members = f"/admin/projects/{project['id']}/members"

    response = admin.post(members, {"user_id": member_id})
    assert response.status_code == 201
    assert [m["id"] for m in response.get_json()["members"]] == [member_id]
    assert admin.post(members, {"user_id": member_id}).status_code == 200  # already one
    response = admin.post(members, {"user_email": "OTHER@example.com"})
    assert response.status_code == 201
    got = admin.get(f"/admin/projects/{project['id']}").get_json()
    assert [(m["id"], m["email"]) for m in got["members"]] == [
        (member_id, "member@example.com"), (other, "other@example.com")]

    response = admin.delete(f"{members}/{member_id}")
    assert response.status_code == 200
    assert [m["id"] for m in response.get_json()["members"]] == [other]
    assert response.get_json()["revoked_key_ids"] == []
    assert admin.delete(f"{members}/{member_id}").status_code == 404  # no longer a member
    assert admin.delete(f"{members}/999999").status_code == 404

    for body, param in (({}, "user_id"), ({"user_id": 999999}, "user_id"),
                        ({"user_id": "x"}, "user_id"), ({"user": 1}, "user")):
        response = admin.post(members, body)
        assert response.status_code == 400 and error_of(response)["param"] == param


def test_key_needs_project_membership(app, admin, member, member_id):
    project = admin.post("/admin/projects", {"name": "p"}).get_json()["id"]
    # Not a member yet: refused for the admin (400) and for the member itself (403).
    response = admin.post("/admin/keys", {"user_id": member_id, "project_id": project})
    assert response.status_code == 400 and error_of(response)["param"] == "project_id"
    response = member.post("/admin/keys", {"project_id": project})
    assert response.status_code == 403 and error_of(response)["param"] == "project_id"
    response = member.post("/admin/keys", {"project_id": 999999})
    assert response.status_code == 403  # same answer as for a project that exists
    response = admin.post("/admin/keys", {"user_id": member_id, "project_id": 999999})
    assert response.status_code == 400 and error_of(response)["code"] == "unknown_project"

    admin.post(f"/admin/projects/{project}/members", {"user_id": member_id})
    key = member.post("/admin/keys", {"project_id": project})
    assert key.status_code == 201 and key.get_json()["project_id"] == project
    secret = key.get_json()["key"]
    assert member.chat(secret) == 200
    listed = admin.get(f"/admin/keys?project_id={project}").get_json()
    assert [k["id"] for k in listed["data"]] == [key.get_json()["id"]]

    # Removing the member revokes its keys bound to the project, at once.
    response = admin.delete(f"/admin/projects/{project}/members/{member_id}")
    assert response.get_json()["revoked_key_ids"] == [key.get_json()["id"]]
    assert member.chat(secret) == 401
    assert member.chat() == 200  # its key without a project still works


def test_project_owner_may_bind_keys_without_being_a_member(admin, member, member_id):
    project = admin.post("/admin/projects", {"name": "mine", "owner_id": member_id}).get_json()
    response = member.post("/admin/keys", {"project_id": project["id"]})
    assert response.status_code == 201
    admin.post(f"/admin/projects/{project['id']}/members", {"user_id": member_id})
    removed = admin.delete(f"/admin/projects/{project['id']}/members/{member_id}").get_json()
    assert removed["revoked_key_ids"] == []  # the owner keeps its keys
    assert member.chat(response.get_json()["key"]) == 200


def test_patch_key_into_a_project(admin, member, member_id):
    project = admin.post("/admin/projects", {"name": "p"}).get_json()["id"]
    key = member.post("/admin/keys", {}).get_json()
    response = admin.patch(f"/admin/keys/{key['id']}", {"project_id": project})
    assert response.status_code == 400 and error_of(response)["param"] == "project_id"
    admin.post(f"/admin/projects/{project}/members", {"user_id": member_id})
    # moving a key into or out of a project is an admin's decision (tests/test_member_limits.py)
    response = member.patch(f"/admin/keys/{key['id']}", {"project_id": project})
    assert response.status_code == 403 and error_of(response)["param"] == "project_id"
    response = admin.patch(f"/admin/keys/{key['id']}", {"project_id": project})
    assert response.status_code == 200 and response.get_json()["project_id"] == project
    response = admin.patch(f"/admin/keys/{key['id']}", {"project_id": None})
    assert response.get_json()["project_id"] is None
