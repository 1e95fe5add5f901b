"""Helpers of the dashboard tests: a user with a key, the page's CSRF token, logging in."""
import re

from app.repositories import keys as key_repo
from app.repositories import users as user_repo

CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def new_key(app, email, role="member", **kwargs):
    """A key (and its user if new): {"id", "secret", "prefix", "user_id", "email"}."""
    with app.app_context():
        user = user_repo.get_by_email(email) or user_repo.create(email, role=role)
        key, secret = key_repo.create(user, **kwargs)
        return {"id": key.id, "secret": secret, "prefix": key.prefix, "user_id": user.id,
                "email": email}


def csrf_of(response):
    match = CSRF.search(response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)[:500]
    return match.group(1)


def log_in(client, secret, **kwargs):
    """Open the login page, post the key with its CSRF token; returns (the login response, the
    session's new CSRF token as the next page shows it, or None when the login failed)."""
    token = csrf_of(client.get("/dashboard/login", **kwargs))
    response = client.post("/dashboard/login", json={"key": secret},
                           headers={"X-CSRF-Token": token}, **kwargs)
    if response.status_code != 200:
        return response, None
    return response, csrf_of(client.get("/dashboard/keys", **kwargs))


def bearer(secret):
    return {"Authorization": f"Bearer {secret}"}
