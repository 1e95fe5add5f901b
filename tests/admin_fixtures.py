"""Fixtures of the admin API tests (loaded with pytest_plugins): an admin key, a member key."""
import pytest

from tests.admin_helpers import ADMIN_EMAIL, MEMBER_EMAIL, Api, make_user
from tests.conftest import create_key


@pytest.fixture
def admin_id(app):
    return make_user(app, ADMIN_EMAIL, role="admin")


@pytest.fixture
def admin(app, client, admin_id):
    return Api(client, create_key(app, ADMIN_EMAIL))


@pytest.fixture
def member_id(app):
    return make_user(app, MEMBER_EMAIL)


@pytest.fixture
def member(app, client, member_id):
    return Api(client, create_key(app, MEMBER_EMAIL))
