"""Stored responses (RESPONSES_STORE): the conversation behind a previous_response_id, and
GET/DELETE /v1/responses/{id} and its input_items through the official SDK — scoped to the
caller's user, expiring, off by default, and never failing an answer when the database is down."""
import time
import uuid
from datetime import timedelta

import openai
import pytest
from sqlalchemy import select, update

from app.errors import InvalidRequest, NotFound, ServiceUnavailable
from app.extensions import db
from app.gateway.auth import MASTER, Principal
from app.gateway.stored_responses import owner_of
from app.models import StoredResponse, utcnow
from tests.conftest import DATABASE_URL, create_key, serving


@pytest.fixture
def app(app_factory):
    return app_factory(RESPONSES_STORE=True)


def store_of(app):
    return app.extensions["gateway"].responses_store


def principal(app, secret):
    with app.app_context():
        return app.extensions["gateway"].authenticate(secret)


def answer(text, model="mock-echo"):
    """A Responses object as the pipeline returns it: a gateway id, one output message."""
    rid = f"resp_{uuid.uuid4().hex}"
    return {"id": rid, "object": "response", "created_at": int(time.time()), "status": "completed",
            "model": model, "output": [{"id": f"msg_{uuid.uuid4().hex}", "type": "message",
                                        "role": "assistant", "status": "completed",
                                        "content": [{"type": "output_text", "text": text,
                                                     "annotations": []}]}],
            "usage": {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}}


def user_text(text):
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def sdk(base, secret):
    return openai.OpenAI(base_url=f"{base}/v1", api_key=secret, max_retries=0, timeout=10)


def stored_ids(app):
    with app.app_context():
        return set(db.session.scalars(select(StoredResponse.id)))


def expire(app, response_id):
    with app.app_context():
        db.session.execute(update(StoredResponse).where(StoredResponse.id == response_id)
                           .values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()


def test_a_chain_of_three_comes_back_oldest_first_input_then_output(app):
    store, me = store_of(app), principal(app, create_key(app))
    first, second, third = answer("A1"), answer("A2"), answer("A3")
    assert store.save(me, first, "Q1", "be brief", None)
    call = {"type": "function_call_output", "call_id": "c1", "output": "42"}
    assert store.save(me, second, [user_text("Q2"), call], "be brief", first["id"])
    assert store.save(me, third, [{"role": "user", "content": "Q3"}], "be terse", second["id"])

    instructions, items = store.history(me, third["id"])
    assert instructions == "be terse"
    assert items == [user_text("Q1"), first["output"][0], user_text("Q2"), call,
                     second["output"][0], {"role": "user", "content": "Q3"},
                     third["output"][0]]
    assert store.history(me, first["id"]) == ("be brief", [user_text("Q1"), first["output"][0]])
    assert store.get(me, third["id"]) == third


def test_input_items_page_through_in_both_orders_with_the_sdk(app):
    secret = create_key(app)
    store, me = store_of(app), principal(app, secret)
    sent = [user_text(f"q{i}") for i in range(5)]
    sent[2] = {**sent[2], "id": "msg_client_2"}
    stored = answer("done")
    store.save(me, stored, sent, None, None)
    with serving(app) as base:
        client = sdk(base, secret)
        first = client.responses.input_items.list(stored["id"], limit=2)  # desc by default
        texts = [item.content[0].text for item in first.data]
        assert texts == ["q4", "q3"] and first.has_more is True
        assert first.first_id == first.data[0].id and first.last_id == first.data[1].id
        everything = [item.content[0].text
                      for item in client.responses.input_items.list(stored["id"], limit=2)]
        assert everything == ["q4", "q3", "q2", "q1", "q0"]  # the SDK follows after=last_id
        ascending = client.responses.input_items.list(stored["id"], order="asc", limit=3)
        assert [item.content[0].text for item in ascending.data] == ["q0", "q1", "q2"]
        assert ascending.data[2].id == "msg_client_2"  # the client's own id is kept
        rest = client.responses.input_items.list(stored["id"], order="asc", limit=3,
                                                 after="msg_client_2")
        assert [item.content[0].text for item in rest.data] == ["q3", "q4"]
        assert rest.has_more is False
        before = client.responses.input_items.list(stored["id"], order="asc", limit=1,
                                                   extra_query={"before": "msg_client_2"})
        assert [item.content[0].text for item in before.data] == ["q1"] and before.has_more
        ids = [item.id for item in ascending.data]
        assert ids == [item.id for item in client.responses.input_items.list(
            stored["id"], order="asc", limit=3).data]  # ids are stable between listings
        for params in ({"limit": 0}, {"limit": 101}, {"order": "up"}, {"after": "msg_nope"}):
            with pytest.raises(openai.BadRequestError) as refused:
                client.responses.input_items.list(stored["id"], **params)
            assert refused.value.body["param"] in ("limit", "order", "after")


def test_a_string_input_is_one_user_message_and_a_shorthand_message_is_spelled_out(app):
    secret = create_key(app)
    store, me = store_of(app), principal(app, secret)
    stored = answer("hello")
    store.save(me, stored, "hi there", None, None)
    client = app.test_client()
    listed = client.get(f"/v1/responses/{stored['id']}/input_items",
                        headers={"Authorization": f"Bearer {secret}"}).get_json()
    assert listed["object"] == "list" and listed["has_more"] is False
    [item] = listed["data"]
    assert item["type"] == "message" and item["role"] == "user"
    assert item["content"] == [{"type": "input_text", "text": "hi there"}]
    assert item["id"].startswith("msg_") and listed["first_id"] == listed["last_id"] == item["id"]


def test_retrieve_then_delete_then_404_everywhere(app):
    secret = create_key(app)
    store, me = store_of(app), principal(app, secret)
    stored = answer("to be deleted")
    store.save(me, stored, "q", None, None)
    with serving(app) as base:
        client = sdk(base, secret)
        got = client.responses.retrieve(stored["id"])
        assert got.id == stored["id"] and got.output_text == "to be deleted"
        raw = client.responses.with_raw_response.delete(stored["id"])
        assert raw.http_response.json() == {"id": stored["id"], "object": "response",
                                            "deleted": True}
        for call in (lambda: client.responses.retrieve(stored["id"]),
                     lambda: client.responses.input_items.list(stored["id"]),
                     lambda: client.responses.delete(stored["id"])):
            with pytest.raises(openai.NotFoundError) as missing:
                call()
            assert missing.value.body["message"] == f"Response with id '{stored['id']}' not found."
    with pytest.raises(NotFound) as gone:
        store.history(me, stored["id"])
    assert gone.value.message == f"Previous response with id '{stored['id']}' not found."
    assert gone.value.param == "previous_response_id"
    assert stored["id"] not in stored_ids(app)


def test_another_users_response_is_404_and_never_its_content(app):
    alice, bob = create_key(app, "alice@example.com"), create_key(app, "bob@example.com")
    alice_again = create_key(app, "alice@example.com")  # her second key: the same owner
    store = store_of(app)
    secret_text = "alice's secret plan"
    stored = answer(secret_text)
    store.save(principal(app, alice), stored, secret_text, "alice's instructions", None)
    client = app.test_client()
    paths = [("get", f"/v1/responses/{stored['id']}"),
             ("get", f"/v1/responses/{stored['id']}/input_items"),
             ("delete", f"/v1/responses/{stored['id']}")]
    for method, path in paths:
        refused = getattr(client, method)(path, headers={"Authorization": f"Bearer {bob}"})
        assert refused.status_code == 404
        assert "secret" not in refused.get_data(as_text=True)
        assert refused.get_json()["error"]["type"] == "invalid_request_error"
    with pytest.raises(NotFound):
        store.history(principal(app, bob), stored["id"])
    with pytest.raises(NotFound):  # the master key is an owner of its own
        store.history(MASTER, stored["id"])
    mine = client.get(f"/v1/responses/{stored['id']}",
                      headers={"Authorization": f"Bearer {alice_again}"})
    assert mine.status_code == 200 and mine.get_json() == stored
    assert store.history(principal(app, alice_again), stored["id"])[0] == "alice's instructions"
    assert client.get(f"/v1/responses/{stored['id']}").status_code == 401


def test_owners_are_the_user_else_the_key_else_the_master_key():
    assert owner_of(Principal(key_id=7, user_id=5, project_id=None, role="member")) == "user:5"
    assert owner_of(Principal(key_id=7, user_id=None, project_id=None, role="member")) == "key:7"
    assert owner_of(MASTER) == "master"


def test_an_expired_response_is_404_and_breaks_the_chain(app):
    secret = create_key(app)
    store, me = store_of(app), principal(app, secret)
    first, second = answer("one"), answer("two")
    store.save(me, first, "q1", None, None)
    store.save(me, second, "q2", None, first["id"])
    expire(app, first["id"])
    client = app.test_client()
    assert client.get(f"/v1/responses/{first['id']}",
                      headers={"Authorization": f"Bearer {secret}"}).status_code == 404
    with pytest.raises(NotFound) as broken:
        store.history(me, second["id"])
    assert first["id"] in broken.value.message


def test_with_the_store_off_history_is_400_and_the_routes_404(app_factory):
    app = app_factory()  # RESPONSES_STORE defaults to off
    secret = create_key(app)
    store, me = store_of(app), principal(app, secret)
    assert store.enabled is False
    stored = answer("not kept")
    assert store.save(me, stored, "q", None, None) is False
    assert stored_ids(app) == set()
    with pytest.raises(InvalidRequest) as refused:
        store.history(me, stored["id"])
    assert refused.value.status == 400 and refused.value.param == "previous_response_id"
    assert refused.value.code == "responses_store_disabled"
    assert "RESPONSES_STORE" in refused.value.message
    client = app.test_client()
    for method, path in (("get", f"/v1/responses/{stored['id']}"),
                         ("get", f"/v1/responses/{stored['id']}/input_items"),
                         ("delete", f"/v1/responses/{stored['id']}")):
        off = getattr(client, method)(path, headers={"Authorization": f"Bearer {secret}"})
        assert off.status_code == 404
        assert off.get_json()["error"]["code"] == "responses_store_disabled"
        assert "RESPONSES_STORE" in off.get_json()["error"]["message"]


@pytest.mark.parametrize("stream", [False, True])
def test_a_response_the_gateway_does_not_keep_says_store_false(app_factory, stream):
    """OpenAI's default is store: true; a client must not be told a response is kept when the
    gateway's store is off."""
    app = app_factory()
    secret = create_key(app)
    with serving(app) as base:
        client = sdk(base, secret)
        if stream:
            with client.responses.stream(model="mock-echo", input="q") as events:
                response = events.get_final_response()
        else:
            response = client.responses.create(model="mock-echo", input="q")
    assert response.output_text == "q" and response.store is False


def test_purge_deletes_expired_responses_only(app):
    secret = create_key(app)
    store, me = store_of(app), principal(app, secret)
    old, fresh = answer("old"), answer("fresh")
    store._last_purge = time.monotonic()  # this test drives the purge itself
    store.save(me, old, "q", None, None)
    store.save(me, fresh, "q", None, None)
    expire(app, old["id"])
    result = app.test_cli_runner().invoke(args=["responses", "purge"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert "purged 1 expired" in result.output
    assert stored_ids(app) == {fresh["id"]}


def test_a_save_purges_expired_responses_in_the_background_once_an_hour(app):
    secret = create_key(app)
    store, me = store_of(app), principal(app, secret)
    old = answer("old")
    store._last_purge = time.monotonic()
    store.save(me, old, "q", None, None)
    expire(app, old["id"])
    store.save(me, answer("within the hour"), "q", None, None)
    time.sleep(0.2)
    assert old["id"] in stored_ids(app)  # the last purge was less than an hour ago
    store._last_purge -= 3600
    store.save(me, answer("an hour later"), "q", None, None)
    deadline = time.monotonic() + 5
    while old["id"] in stored_ids(app):
        assert time.monotonic() < deadline, "the expired response was never purged"
        time.sleep(0.05)
    assert len(stored_ids(app)) == 2


def test_a_save_that_the_database_refuses_does_not_raise(app, monkeypatch, caplog):
    from sqlalchemy.exc import OperationalError

    from app.repositories import responses as repo

    def down(row):
        raise OperationalError("INSERT", {}, Exception("could not connect to server"))

    monkeypatch.setattr(repo, "save", down)
    store, me = store_of(app), principal(app, create_key(app))
    stored = answer("lost")
    assert store.save(me, stored, "q", None, None) is False
    assert store.save(me, answer("lost too"), "q", None, None) is False
    lines = [r for r in caplog.records if "was not stored" in r.getMessage()]
    assert len(lines) == 1 and stored["id"] in lines[0].getMessage()  # logged once
    assert store.save(me, {"no": "id"}, "q", None, None) is False  # a broken answer: no raise


def test_a_nul_byte_in_the_content_comes_back_exact(app):
    secret = create_key(app)
    store, me = store_of(app), principal(app, secret)
    stored = answer("out\x00put")
    sent = [user_text("in\x00put \ud800")]
    assert store.save(me, stored, sent, "instr\x00uctions", None)
    instructions, items = store.history(me, stored["id"])
    assert items == [*sent, stored["output"][0]]
    assert instructions == "instr\\u0000uctions"  # a text column: escaped as in request logs
    got = app.test_client().get(f"/v1/responses/{stored['id']}",
                                headers={"Authorization": f"Bearer {secret}"})
    assert got.status_code == 200 and got.get_json()["output"][0]["content"][0]["text"] \
        == "out\x00put"


@pytest.mark.postgres
@pytest.mark.skipif(not DATABASE_URL.startswith("postgresql"),
                    reason="needs TEST_DATABASE_URL on PostgreSQL: cut off through a TCP proxy")
@pytest.mark.parametrize("cut", ["refuse", "silence"])
def test_a_database_outage_never_fails_the_answer_and_reads_get_503(app_factory, tmp_path, cut):
    from sqlalchemy.engine import make_url

    from app.config import database_url
    from tests.tcp_proxy import TcpProxy

    target = make_url(database_url(DATABASE_URL))
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432).start()
    try:
        url = target.set(host="127.0.0.1", port=proxy.port).render_as_string(
            hide_password=False)
        app = app_factory(SQLALCHEMY_DATABASE_URI=url, RESPONSES_STORE=True,
                          DATABASE_TIMEOUT_SECONDS=1, DATABASE_RETRY_SECONDS=0.5,
                          LOG_SPOOL_DIR=str(tmp_path / "spool"))
        store, me = store_of(app), principal(app, create_key(app))
        kept = answer("before")
        assert store.save(me, kept, "q", None, None)
        getattr(proxy, cut)()
        started = time.monotonic()
        assert store.save(me, answer("during"), "q", None, kept["id"]) is False
        assert store.save(me, answer("during"), "q", None, kept["id"]) is False
        assert time.monotonic() - started < 4  # one bounded wait, then the breaker answers
        with pytest.raises(ServiceUnavailable) as unavailable:
            store.history(me, kept["id"])
        assert unavailable.value.headers["retry-after"] == "1"
        proxy.forward()
        deadline = time.monotonic() + 10
        while not store.save(me, answer("after"), "q", None, kept["id"]):
            assert time.monotonic() < deadline, "saving never came back"
            time.sleep(0.3)
        assert store.history(me, kept["id"])[1][1] == kept["output"][0]
    finally:
        proxy.stop()


def test_responses_chained_through_the_api_are_kept_listed_and_deleted(app):
    secret = create_key(app)
    with serving(app) as base:
        client = sdk(base, secret)
        first = client.responses.create(model="mock-echo", input="first question",
                                        instructions="be brief")
        second = client.responses.create(model="mock-echo", input="second question",
                                         previous_response_id=first.id)
        unkept = client.responses.create(model="mock-echo", input="private", store=False)
        assert (first.store, second.store, unkept.store) == (True, True, False)
        assert client.responses.retrieve(second.id).output_text == second.output_text
        listed = client.responses.input_items.list(second.id)
        assert [item.content[0].text for item in listed.data] == ["second question"]
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(unkept.id)
        client.responses.delete(first.id)
        with pytest.raises(openai.NotFoundError) as broken:
            client.responses.create(model="mock-echo", input="third",
                                    previous_response_id=second.id)
        assert broken.value.body["param"] == "previous_response_id"
    assert stored_ids(app) == {second.id}


def test_the_api_keeps_what_history_gives_back(app):
    secret = create_key(app)
    with serving(app) as base:
        client = sdk(base, secret)
        first = client.responses.create(model="mock-echo", input="first question",
                                        instructions="be brief")
        second = client.responses.create(model="mock-echo", input=[user_text("second")],
                                         previous_response_id=first.id)
    instructions, items = store_of(app).history(principal(app, secret), second.id)
    assert instructions == "be brief"  # carried from the first turn by the pipeline
    assert items[0] == user_text("first question") and items[2] == user_text("second")
    assert [item["id"] for item in (items[1], items[3])] == [first.output[0].id,
                                                             second.output[0].id]
