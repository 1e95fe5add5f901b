"""A member can never loosen what an admin set on its key: limits, allowlist and expiry may only
be tightened, and the key cannot be moved into or out of a project by its member."""
from datetime import timedelta

import pytest

from app.models import utcnow
from tests.admin_helpers import MEMBER_EMAIL, error_of, key_row

pytest_plugins = ["tests.admin_fixtures"]


@pytest.fixture
def fixed_key(admin, member, member_id):
    """A key an admin made for the member, with every kind of limit set."""
    expires = (utcnow() + timedelta(days=30)).replace(microsecond=0)
    response = admin.post("/admin/keys", json={
        "user_id": member_id, "rpm": 10, "tpm": 1000, "max_parallel": 2,
        "max_budget_usd": "5", "budget_period": "monthly", "models": ["mock-*"],
        "expires_at": expires.isoformat() + "Z"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.mark.parametrize("field", ["rpm", "tpm", "max_parallel", "max_budget_usd", "models",
                                   "expires_at", "budget_period"])
def test_a_member_cannot_remove_what_an_admin_set(member, fixed_key, field):
    response = member.patch(f"/admin/keys/{fixed_key['id']}", json={field: None})
    assert response.status_code == 403
    error = error_of(response)
    assert error["param"] == field and error["code"] == "exceeds_admin_limit"


@pytest.mark.parametrize("change", [{"rpm": 11}, {"tpm": 5000}, {"max_parallel": 3},
                                    {"max_budget_usd": "5.01"}, {"models": ["*"]},
                                    {"models": ["mock-*", "gpt-*"]}, {"budget_period": "daily"},
                                    {"expires_in": "60d"}])
def test_a_member_cannot_raise_what_an_admin_set(member, fixed_key, change):
    response = member.patch(f"/admin/keys/{fixed_key['id']}", json=change)
    assert response.status_code == 403
    assert error_of(response)["param"] == next(iter(change)).replace("expires_in", "expires_at")


def test_a_member_may_tighten_what_an_admin_set(app, member, fixed_key):
    response = member.patch(f"/admin/keys/{fixed_key['id']}", json={
        "rpm": 5, "tpm": 100, "max_parallel": 1, "max_budget_usd": "1", "models": ["mock-echo"],
        "expires_in": "7d"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["rpm"], body["models"], body["max_budget_usd"]) == (5, ["mock-echo"], "1")
    # ... and loosen its own tightening again, up to the admin's figure
    assert member.patch(f"/admin/keys/{fixed_key['id']}", json={"rpm": 10}).status_code == 200
    assert key_row(app, fixed_key["id"]).admin_limits["rpm"] == 10


def test_a_member_cannot_move_its_key_out_of_a_project(app, admin, member, member_id):
    project = admin.post("/admin/projects", json={"name": "capped", "max_budget_usd": "0"})
    project_id = project.get_json()["id"]
    assert admin.post(f"/admin/projects/{project_id}/members",
                      json={"user_id": member_id}).status_code in (200, 201)
    key = admin.post("/admin/keys", json={"user_id": member_id, "project_id": project_id})
    key_id = key.get_json()["id"]
    response = member.patch(f"/admin/keys/{key_id}", json={"project_id": None})
    assert response.status_code == 403 and error_of(response)["param"] == "project_id"
    assert key_row(app, key_id).project_id == project_id
    # nor into one, not even a project it belongs to
    own = member.post("/admin/keys", json={"name": "mine"}).get_json()
    response = member.patch(f"/admin/keys/{own['id']}", json={"project_id": project_id})
    assert response.status_code == 403 and error_of(response)["code"] == "admin_only_field"
    # naming the project it is already in changes nothing and is allowed
    assert member.patch(f"/admin/keys/{key_id}", json={"project_id": project_id,
                                                        "name": "x"}).status_code == 200


def test_limits_a_member_set_itself_stay_its_own(member):
    own = member.post("/admin/keys", json={"name": "mine", "rpm": 5}).get_json()
    response = member.patch(f"/admin/keys/{own['id']}", json={"rpm": None, "models": None})
    assert response.status_code == 200
    assert response.get_json()["rpm"] is None


def test_an_admin_may_free_a_field_it_fixed(admin, member, fixed_key):
    assert admin.patch(f"/admin/keys/{fixed_key['id']}", json={"rpm": None}).status_code == 200
    assert member.patch(f"/admin/keys/{fixed_key['id']}", json={"rpm": 50}).status_code == 200
    assert member.patch(f"/admin/keys/{fixed_key['id']}", json={"tpm": None}).status_code == 403


def test_rotation_keeps_what_an_admin_fixed(app, member, fixed_key):
    rotated = member.post(f"/admin/keys/{fixed_key['id']}/rotate", json={})
    assert rotated.status_code == 201
    new_id = rotated.get_json()["id"]
    assert member.patch(f"/admin/keys/{new_id}", json={"rpm": 20}).status_code == 403
    longer = member.post(f"/admin/keys/{new_id}/rotate", json={"expires_in": "90d"})
    assert longer.status_code == 403 and error_of(longer)["param"] == "expires_at"


def test_keys_made_with_the_cli_are_fixed_by_an_admin(app, runner, member_id):
    result = runner.invoke(args=["keys", "create", "--user", MEMBER_EMAIL, "--rpm", "3"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        from app.repositories import keys as key_repo
        [key] = [k for k in key_repo.list_all() if k.rpm == 3]
    assert key.admin_limits == {"rpm": 3}
