"""/admin/keys: create, list, read, change, revoke and rotate virtual keys.

Admins (and the master key) act on every key. A member acts on its own keys only (another
user's key is a 404) and creates keys for itself within its user's limits (governance)."""
from flasgger import swag_from

from ... import governance as gov
from ... import member_limits
from ...errors import InvalidRequest, NotFound, PermissionDenied
from ...models import utcnow
from ...repositories import keys as key_repo
from ...repositories import projects as project_repo
from ...repositories import users as user_repo
from .. import caller
from . import args, bp, ceiling_of, doc, invalidate, iso, limits_of, page_of, read_json

CREATE_FIELDS = ("user_id", "user_email", "name", "project_id", *gov.LIMIT_FIELDS,
                 "expires_at", "expires_in")
UPDATE_FIELDS = ("name", "project_id", *gov.LIMIT_FIELDS, "expires_at", "expires_in")


def key_state(key, now=None):
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= (now or utcnow()):
        return "expired"
    return "active"


def render_key(key):
    """A key as the API shows it: never its secret or hash, only the display prefix."""
    return {"id": key.id, "name": key.name, "prefix": key.prefix, "user_id": key.user_id,
            "user_email": key.user.email if key.user else None, "project_id": key.project_id,
            **limits_of(key), "state": key_state(key), "expires_at": iso(key.expires_at),
            "revoked_at": iso(key.revoked_at), "last_used_at": iso(key.last_used_at),
            "created_at": iso(key.created_at)}


def _with_secret(key, secret, status=201, **extra):
    return {**render_key(key), **extra, "key": secret}, status


def _own_key(principal, key_id):
    """The key, if the caller may see it; a member asking for another user's key gets 404."""
    key = key_repo.get(key_id)
    if key is None or (not principal.is_admin and key.user_id != principal.user_id):
        raise NotFound(f"No API key with id {key_id}.", param="key_id")
    return key


def _owner(principal, body):
    """The user the new key is for: user_id / user_email, by default the caller's own user."""
    user_id = gov.parse_id(body["user_id"], "user_id") if body.get("user_id") is not None else None
    email = (gov.parse_email(body["user_email"], "user_email")
             if body.get("user_email") is not None else None)
    if not principal.is_admin:
        own = user_repo.get(principal.user_id)
        if (user_id not in (None, own.id)) or (email not in (None, own.email)):
            raise PermissionDenied("A member key may only create keys for its own user.",
                                   param="user_id" if user_id is not None else "user_email",
                                   code="not_your_user")
        return own
    if user_id is None and email is None:
        if principal.user_id is None:
            raise InvalidRequest("`user_id` or `user_email` is required with the master key.",
                                 param="user_id", code="missing_field")
        user_id = principal.user_id
    user = user_repo.get(user_id) if user_id is not None else user_repo.get_by_email(email)
    if user is None or (email is not None and user.email != email):
        param = "user_id" if user_id is not None else "user_email"
        raise InvalidRequest("No such user (or `user_id` and `user_email` disagree).",
                             param=param, code="unknown_user")
    return user


def _project_id(principal, owner, value):
    """A project the key's owner belongs to (member or owner), or None."""
    if value is None:
        return None
    project_id = gov.parse_id(value, "project_id")
    project = project_repo.get(project_id)
    if project is not None and project_repo.is_member(project, owner.id):
        return project_id
    if not principal.is_admin:
        raise PermissionDenied(f"You are not a member of project {project_id}.",
                               param="project_id", code="not_a_project_member")
    if project is None:
        raise InvalidRequest(f"No project with id {project_id}.", param="project_id",
                             code="unknown_project")
    raise InvalidRequest(f"{owner.email} is neither a member nor the owner of project "
                         f"{project_id}; add them first.", param="project_id",
                         code="not_a_project_member")


@bp.post("/keys")
@swag_from(doc("admin_keys_create.yml"))
def create_key():
    principal = caller()
    body = read_json()
    gov.check_fields(body, CREATE_FIELDS)
    owner = _owner(principal, body)
    if not owner.active:
        raise InvalidRequest(f"{owner.email} is deactivated.", param="user_id",
                             code="inactive_user")
    name = gov.parse_text(body.get("name"), "name")
    limits = gov.parse_limits(body)
    _, expires_at = gov.parse_expiry(body, utcnow())
    project_id = _project_id(principal, owner, body.get("project_id"))
    fixed = None
    if principal.is_admin:
        fixed = member_limits.admin_fixed({**limits, "expires_at": expires_at}, None,
                                          limits.get("budget_period"))
    else:
        limits = member_limits.apply_ceiling(limits, ceiling_of(owner))
    key, secret = key_repo.create(owner, name=name, project_id=project_id,
                                  expires_at=expires_at, admin_limits=fixed, **limits)
    return _with_secret(key, secret)


@bp.get("/keys")
@swag_from(doc("admin_keys_list.yml"))
def list_keys():
    principal = caller()
    limit, offset = gov.parse_paging(args())
    user_id = gov.query_id(args(), "user_id")
    if not principal.is_admin:
        user_id = principal.user_id  # a member sees its own keys, whatever it asks for
    rows, total = key_repo.page(
        limit=limit, offset=offset, user_id=user_id,
        project_id=gov.query_id(args(), "project_id"),
        state=gov.query_choice(args(), "state", key_repo.STATES))
    return page_of(rows, total, limit, offset, render_key)


@bp.get("/keys/<int:key_id>")
@swag_from(doc("admin_keys_get.yml"))
def get_key(key_id):
    return render_key(_own_key(caller(), key_id))


@bp.patch("/keys/<int:key_id>")
@swag_from(doc("admin_keys_update.yml"))
def update_key(key_id):
    principal = caller()
    body = read_json()
    gov.check_fields(body, UPDATE_FIELDS)
    key = _own_key(principal, key_id)
    if key.revoked_at is not None:
        raise InvalidRequest("This key is revoked and cannot be changed.", code="key_revoked")
    fields = gov.parse_limits(body)
    if "name" in body:
        fields["name"] = gov.parse_text(body["name"], "name")
    present, expires_at = gov.parse_expiry(body, utcnow())
    if present:
        fields["expires_at"] = expires_at
    if principal.is_admin:
        fields["admin_limits"] = member_limits.admin_fixed(
            fields, key.admin_limits, fields.get("budget_period", key.budget_period))
    else:
        member_limits.apply_ceiling(fields, ceiling_of(key.user), fill_defaults=False)
        member_limits.check_member_change({**fields, **(
            {"project_id": body["project_id"]} if "project_id" in body else {})},
            key.admin_limits, key.project_id)
    if "project_id" in body:
        fields["project_id"] = _project_id(principal, key.user, body["project_id"])
    key_repo.update_fields(key, fields)
    invalidate(key.key_hash)
    return render_key(key)


@bp.post("/keys/<int:key_id>/revoke")
@swag_from(doc("admin_keys_revoke.yml"))
def revoke_key(key_id):
    key = _own_key(caller(), key_id)
    key_repo.revoke(key)
    invalidate(key.key_hash)
    return render_key(key)


@bp.post("/keys/<int:key_id>/rotate")
@swag_from(doc("admin_keys_rotate.yml"))
def rotate_key(key_id):
    principal = caller()
    body = read_json(optional=True)
    gov.check_fields(body, ("expires_at", "expires_in"))
    key = _own_key(principal, key_id)
    if key.revoked_at is not None:
        raise InvalidRequest("This key is already revoked; create a new one instead.",
                             code="key_revoked")
    now = utcnow()
    present, expires_at = gov.parse_expiry(body, now)
    if not present:
        expires_at = key.expires_at
        if expires_at is not None and expires_at <= now:
            raise InvalidRequest("This key has expired; give the new key `expires_at` or "
                                 "`expires_in`.", param="expires_at", code="key_expired")
    elif principal.is_admin:
        key.admin_limits = member_limits.admin_fixed({"expires_at": expires_at},
                                                     key.admin_limits, key.budget_period)
    else:
        member_limits.check_member_change({"expires_at": expires_at}, key.admin_limits)
    new, secret = key_repo.rotate(key, expires_at=expires_at)
    invalidate(key.key_hash)
    return _with_secret(new, secret, rotated_from=key.id)
