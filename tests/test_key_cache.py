"""A revoke made elsewhere (another worker, the CLI) takes effect within KEY_CACHE_TTL_SECONDS."""
import time

from app.repositories import keys as key_repo
from tests.conftest import create_key

HI = [{"role": "user", "content": "hi"}]


def test_revoke_in_another_instance_applies_within_the_ttl(app_factory):
    serving_app = app_factory(KEY_CACHE_TTL_SECONDS=0.5)
    admin_app = app_factory()
    key = create_key(serving_app)
    client = serving_app.test_client()

    def call():
        return client.post("/v1/chat/completions", json={"model": "mock-echo", "messages": HI},
                           headers={"Authorization": f"Bearer {key}"}).status_code

    assert call() == 200  # cached now
    with admin_app.app_context():
        key_repo.revoke(key_repo.list_all()[0])
    started = time.monotonic()
    codes = []
    while time.monotonic() - started < 2.0 and (not codes or codes[-1] == 200):
        codes.append(call())
        time.sleep(0.05)
    assert codes[-1] == 401
    assert time.monotonic() - started < 1.0  # within the 0.5 s TTL (plus polling)
