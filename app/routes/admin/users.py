"""/admin/users: create, list, read, change and deactivate users (admin only)."""
from flasgger import swag_from

from ... import governance as gov
from ...errors import InvalidRequest, NotFound
from ...models import ROLES
from ...repositories import users as user_repo
from .. import caller, require_admin
from . import args, bp, doc, invalidate, page_of, read_json, render_user

CREATE_FIELDS = ("email", "name", "role", *gov.LIMIT_FIELDS)
UPDATE_FIELDS = ("email", "name", "role", "active", *gov.LIMIT_FIELDS)


def _user(user_id):
    user = user_repo.get(user_id)
    if user is None:
        raise NotFound(f"No user with id {user_id}.", param="user_id")
    return user


@bp.post("/users")
@swag_from(doc("admin_users_create.yml"))
def create_user():
    require_admin(caller())
    body = read_json()
    gov.check_fields(body, CREATE_FIELDS, required=("email",))
    email = gov.parse_email(body["email"])
    name = gov.parse_text(body.get("name"), "name")
    role = gov.parse_role(body["role"]) if body.get("role") is not None else "member"
    user = user_repo.create(email, name=name, role=role, **gov.parse_limits(body))
    return render_user(user), 201


@bp.get("/users")
@swag_from(doc("admin_users_list.yml"))
def list_users():
    require_admin(caller())
    limit, offset = gov.parse_paging(args())
    role = gov.query_choice(args(), "role", ROLES)
    active = gov.query_bool(args(), "active")
    q = gov.query_text(args(), "q")
    rows, total = user_repo.page(limit=limit, offset=offset, role=role, active=active, q=q)
    return page_of(rows, total, limit, offset, render_user)


@bp.get("/users/<int:user_id>")
@swag_from(doc("admin_users_get.yml"))
def get_user(user_id):
    require_admin(caller())
    return render_user(_user(user_id))


@bp.patch("/users/<int:user_id>")
@swag_from(doc("admin_users_update.yml"))
def update_user(user_id):
    principal = require_admin(caller())
    body = read_json()
    gov.check_fields(body, UPDATE_FIELDS)
    user = _user(user_id)
    fields = gov.parse_limits(body)
    if "email" in body:
        fields["email"] = gov.parse_email(body["email"])
    if "name" in body:
        fields["name"] = gov.parse_text(body["name"], "name")
    if "role" in body:
        fields["role"] = gov.parse_role(body["role"])
    if "active" in body:
        fields["active"] = gov.parse_bool(body["active"], "active")
    if user.id == principal.user_id and (fields.get("role", "admin") != "admin"
                                         or fields.get("active", True) is False):
        raise InvalidRequest("You cannot demote or deactivate your own user; ask another admin.",
                             param="role" if "role" in fields else "active", code="self_lockout")
    user_repo.update(user, fields)
    invalidate()  # role, active and limits are part of the cached key identity
    return render_user(user)


@bp.delete("/users/<int:user_id>")
@swag_from(doc("admin_users_delete.yml"))
def deactivate_user(user_id):
    principal = require_admin(caller())
    user = _user(user_id)
    if user.id == principal.user_id:
        raise InvalidRequest("You cannot deactivate your own user; ask another admin.",
                             param="user_id", code="self_lockout")
    user_repo.deactivate(user)
    invalidate()
    return render_user(user)
