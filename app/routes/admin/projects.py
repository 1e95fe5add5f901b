"""/admin/projects: create, list, read and change projects and their members (admin only)."""
from flasgger import swag_from

from ... import governance as gov
from ...errors import InvalidRequest, NotFound
from ...repositories import projects as project_repo
from ...repositories import users as user_repo
from .. import caller, require_admin
from . import (
    args,
    bp,
    doc,
    invalidate,
    iso,
    limits_of,
    page_of,
    read_json,
    render_member,
)

FIELDS = ("name", "description", "owner_id", *gov.LIMIT_FIELDS)


def render_project(project, with_members=True):
    out = {"id": project.id, "name": project.name, "description": project.description,
           "owner_id": project.owner_id, **limits_of(project),
           "created_at": iso(project.created_at)}
    if with_members:
        out["members"] = [render_member(u) for u in project_repo.members_of(project)]
    return out


def _project(project_id):
    project = project_repo.get(project_id)
    if project is None:
        raise NotFound(f"No project with id {project_id}.", param="project_id")
    return project


def _owner_id(value):
    if value is None:
        return None
    owner_id = gov.parse_id(value, "owner_id")
    if user_repo.get(owner_id) is None:
        raise InvalidRequest(f"No user with id {owner_id}.", param="owner_id",
                             code="unknown_user")
    return owner_id


def _fields(body):
    fields = gov.parse_limits(body)
    if "name" in body:
        fields["name"] = gov.parse_text(body["name"], "name", required=True)
    if "description" in body:
        fields["description"] = gov.parse_text(body["description"], "description", 1000,
                                               multiline=True)
    if "owner_id" in body:
        fields["owner_id"] = _owner_id(body["owner_id"])
    return fields


@bp.post("/projects")
@swag_from(doc("admin_projects_create.yml"))
def create_project():
    require_admin(caller())
    body = read_json()
    gov.check_fields(body, FIELDS, required=("name",))
    fields = _fields(body)
    project = project_repo.create(fields.pop("name"), **fields)
    return render_project(project), 201


@bp.get("/projects")
@swag_from(doc("admin_projects_list.yml"))
def list_projects():
    require_admin(caller())
    limit, offset = gov.parse_paging(args())
    q = gov.query_text(args(), "q")
    rows, total = project_repo.page(limit=limit, offset=offset, q=q)
    return page_of(rows, total, limit, offset, lambda p: render_project(p, with_members=False))


@bp.get("/projects/<int:project_id>")
@swag_from(doc("admin_projects_get.yml"))
def get_project(project_id):
    require_admin(caller())
    return render_project(_project(project_id))


@bp.patch("/projects/<int:project_id>")
@swag_from(doc("admin_projects_update.yml"))
def update_project(project_id):
    require_admin(caller())
    body = read_json()
    gov.check_fields(body, FIELDS)
    project = _project(project_id)
    project_repo.update(project, _fields(body))
    invalidate()
    return render_project(project)


@bp.post("/projects/<int:project_id>/members")
@swag_from(doc("admin_projects_members_add.yml"))
def add_member(project_id):
    require_admin(caller())
    body = read_json()
    gov.check_fields(body, ("user_id", "user_email"))
    project = _project(project_id)
    email = (gov.parse_email(body["user_email"], "user_email")
             if body.get("user_email") is not None else None)
    if body.get("user_id") is not None:
        user = user_repo.get(gov.parse_id(body["user_id"], "user_id"))
    elif email is not None:
        user = user_repo.get_by_email(email)
    else:
        raise InvalidRequest("`user_id` (or `user_email`) is required.", param="user_id",
                             code="missing_field")
    if user is None:
        raise InvalidRequest("No such user.", param="user_id", code="unknown_user")
    added = project_repo.add_member(project, user)
    return render_project(project), 201 if added else 200


@bp.delete("/projects/<int:project_id>/members/<int:user_id>")
@swag_from(doc("admin_projects_members_remove.yml"))
def remove_member(project_id, user_id):
    require_admin(caller())
    project = _project(project_id)
    user = user_repo.get(user_id)
    revoked = project_repo.remove_member(project, user) if user is not None else None
    if revoked is None:
        raise NotFound(f"User {user_id} is not a member of project {project_id}.",
                       param="user_id")
    for key in revoked:
        invalidate(key.key_hash)
    return {**render_project(project), "revoked_key_ids": [k.id for k in revoked]}
