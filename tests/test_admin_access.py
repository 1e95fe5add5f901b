"""Who may call which /admin route: admin key, master key, member key, no key."""
import pytest

from tests.admin_helpers import (
    MASTER_KEY,
    MEMBER_EMAIL,
    Api,
    error_of,
    make_user,
)
from tests.conftest import create_key

pytest_plugins = ["tests.admin_fixtures"]  # admin, member, … fixtures


def build_world(app, api):
    """Another user with a key, a project holding that user, and a key of the member user."""
    other = make_user(app, "other@example.com")
    member_key = create_key(app, MEMBER_EMAIL)
    project = api.post("/admin/projects", {"name": "alpha"}).get_json()["id"]
    assert api.post(f"/admin/projects/{project}/members", {"user_id": other}).status_code == 201
    other_key = api.post("/admin/keys", {"user_id": other}).get_json()["id"]
    keys = api.get("/admin/keys?limit=500").get_json()["data"]
    own = next(k for k in keys if k["prefix"] == member_key[:12])
    return {"other": other, "project": project, "other_key": other_key, "own_key": own["id"],
            "member_user": own["user_id"], "member_key": member_key}


# (method, path, body, member status, admin status, master status)
ROUTES = [
    ("POST", "/admin/users", {"email": "new@example.com"}, 403, 201, 201),
    ("GET", "/admin/users", None, 403, 200, 200),
    ("GET", "/admin/users/{other}", None, 403, 200, 200),
    ("PATCH", "/admin/users/{other}", {"name": "Renamed"}, 403, 200, 200),
    ("DELETE", "/admin/users/{other}", None, 403, 200, 200),
    ("POST", "/admin/projects", {"name": "beta"}, 403, 201, 201),
    ("GET", "/admin/projects", None, 403, 200, 200),
    ("GET", "/admin/projects/{project}", None, 403, 200, 200),
    ("PATCH", "/admin/projects/{project}", {"description": "d"}, 403, 200, 200),
    ("POST", "/admin/projects/{project}/members", {"user_id": "{member_user}"}, 403, 201, 201),
    ("DELETE", "/admin/projects/{project}/members/{other}", None, 403, 200, 200),
    ("POST", "/admin/keys", {"name": "mine"}, 201, 201, 400),
    ("POST", "/admin/keys", {"user_id": "{other}"}, 403, 201, 201),
    ("GET", "/admin/keys", None, 200, 200, 200),
    ("GET", "/admin/keys/{own_key}", None, 200, 200, 200),
    ("GET", "/admin/keys/{other_key}", None, 404, 200, 200),
    ("PATCH", "/admin/keys/{own_key}", {"name": "n"}, 200, 200, 200),
    ("PATCH", "/admin/keys/{other_key}", {"name": "n"}, 404, 200, 200),
    ("POST", "/admin/keys/{own_key}/revoke", None, 200, 200, 200),
    ("POST", "/admin/keys/{other_key}/revoke", None, 404, 200, 200),
    ("POST", "/admin/keys/{own_key}/rotate", None, 201, 201, 201),
    ("POST", "/admin/keys/{other_key}/rotate", None, 404, 201, 201),
]
IDS = [f"{m} {p} {b or ''}" for m, p, b, *_ in ROUTES]


def _fill(value, world):
    if isinstance(value, str):
        if value.startswith("{") and value.endswith("}") and value[1:-1] in world:
            return world[value[1:-1]]
        return value.format(**world)
    if isinstance(value, dict):
        return {k: _fill(v, world) for k, v in value.items()}
    return value


def _check(api, route, world, expected):
    method, path, body, *_ = route
    response = api.call(method, _fill(path, world), _fill(body, world))
    assert response.status_code == expected, response.get_json()
    if expected == 403:
        assert error_of(response)["type"] == "permission_error"
    if expected == 404:
        assert error_of(response)["code"] == "not_found"
    return response


@pytest.mark.parametrize("route", ROUTES, ids=IDS)
def test_member_key(app, admin, member, route):
    world = build_world(app, admin)
    _check(member, route, world, route[3])


@pytest.mark.parametrize("route", ROUTES, ids=IDS)
def test_admin_key(app, admin, member, route):
    world = build_world(app, admin)
    _check(admin, route, world, route[4])


@pytest.mark.parametrize("route", ROUTES, ids=IDS)
def test_master_key(app_factory, route):
    app = app_factory(GATEWAY_MASTER_KEY=MASTER_KEY)
    master = Api(app.test_client(), MASTER_KEY)
    world = build_world(app, master)
    response = _check(master, route, world, route[5])
    if route[5] == 400:
        assert error_of(response)["param"] == "user_id"


@pytest.mark.parametrize("route", ROUTES, ids=IDS)
@pytest.mark.parametrize("key", [None, "sk-gw-not-a-real-key"])
def test_no_or_bad_key_is_401(app, admin, route, key):
    world = build_world(app, admin)
    method, path, body, *_ = route
    response = Api(app.test_client(), key).call(method, _fill(path, world), _fill(body, world))
    assert response.status_code == 401
    assert error_of(response)["code"] == ("missing_api_key" if key is None else "invalid_api_key")


def test_member_sees_only_its_own_keys_whatever_the_filter(app, admin, member, member_id):
    world = build_world(app, admin)
    for query in ("", f"?user_id={world['other']}", f"?user_id={member_id}"):
        data = member.get(f"/admin/keys{query}").get_json()
        assert {k["user_id"] for k in data["data"]} == {member_id}, query
        assert data["total"] == 2  # the member fixture's key and build_world's own key


def test_member_may_not_create_keys_for_someone_else_by_email(admin, member, app):
    build_world(app, admin)
    response = member.post("/admin/keys", {"user_email": "other@example.com"})
    assert response.status_code == 403 and error_of(response)["param"] == "user_email"
    response = member.post("/admin/keys", {"user_email": "nobody@example.com"})
    assert response.status_code == 403  # no telling whether the user exists
    assert member.post("/admin/keys", {"user_email": MEMBER_EMAIL}).status_code == 201


def test_member_cannot_change_its_key_into_another_project(app, admin, member):
    world = build_world(app, admin)
    response = member.patch(f"/admin/keys/{world['own_key']}", {"project_id": world["project"]})
    assert response.status_code == 403 and error_of(response)["param"] == "project_id"


def test_swagger_documents_every_admin_operation(client):
    spec = client.get("/apispec_1.json").get_json()
    operations = {("/admin/users", "post"), ("/admin/users", "get"),
                  ("/admin/users/{user_id}", "get"), ("/admin/users/{user_id}", "patch"),
                  ("/admin/users/{user_id}", "delete"), ("/admin/projects", "post"),
                  ("/admin/projects", "get"), ("/admin/projects/{project_id}", "get"),
                  ("/admin/projects/{project_id}", "patch"),
                  ("/admin/projects/{project_id}/members", "post"),
                  ("/admin/projects/{project_id}/members/{user_id}", "delete"),
                  ("/admin/keys", "post"), ("/admin/keys", "get"), ("/admin/keys/{key_id}", "get"),
                  ("/admin/keys/{key_id}", "patch"), ("/admin/keys/{key_id}/revoke", "post"),
                  ("/admin/keys/{key_id}/rotate", "post")}
    for path, method in operations:
        operation = spec["paths"][path][method]
        assert operation["tags"] == ["Admin"]
        ok = operation["responses"].get("200") or operation["responses"]["201"]
        assert ok["content"]["application/json"]["schema"]["type"] == "object", (path, method)
        assert "401" in operation["responses"]
        if method in ("post", "patch") and not path.endswith(("/revoke", "/rotate")):
            assert operation["requestBody"]["content"]["application/json"]["schema"]
    create = spec["paths"]["/admin/keys"]["post"]["responses"]["201"]
    assert "key" in create["content"]["application/json"]["schema"]["properties"]
