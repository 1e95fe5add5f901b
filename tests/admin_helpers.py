"""Helpers of the admin API tests: a JSON client bound to a key, users, stored keys."""
import hashlib

from sqlalchemy import select

from app.extensions import db
from app.models import ApiKey
from app.repositories import users as user_repo

ADMIN_EMAIL = "root@example.com"
MEMBER_EMAIL = "member@example.com"
MASTER_KEY = "sk-master-for-admin-tests"


class Api:
    """The Flask test client with one key; every method returns the response."""

    def __init__(self, client, key=None):
        self.client = client
        self.key = key

    def headers(self):
        return {"Authorization": f"Bearer {self.key}"} if self.key else {}

    def call(self, method, path, json=None, **kwargs):
        return self.client.open(path, method=method, json=json, headers=self.headers(), **kwargs)

    def get(self, path, **kwargs):
        return self.call("GET", path, **kwargs)

    def post(self, path, json=None):
        return self.call("POST", path, json)

    def patch(self, path, json=None):
        return self.call("PATCH", path, json)

    def delete(self, path):
        return self.call("DELETE", path)

    def chat(self, key=None):
        """Status of one chat completion on mock-echo with key (default: this client's key)."""
        return self.client.post("/v1/chat/completions", headers={
            "Authorization": f"Bearer {key or self.key}"}, json={
            "model": "mock-echo", "messages": [{"role": "user", "content": "hi"}]}).status_code


def make_user(app, email, role="member", **limits):
    with app.app_context():
        return user_repo.create(email, name=email.split("@")[0].title(), role=role, **limits).id


def key_row(app, key_id):
    with app.app_context():
        key = db.session.get(ApiKey, key_id)
        db.session.expunge(key)
        return key


def stored_hashes(app):
    with app.app_context():
        return set(db.session.scalars(select(ApiKey.key_hash)))


def sha256(secret):
    return hashlib.sha256(secret.encode()).hexdigest()


def error_of(response):
    body = response.get_json()
    assert set(body) == {"error"}, body
    return body["error"]
