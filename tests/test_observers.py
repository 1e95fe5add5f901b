"""The pipeline's observer points (app/observability): started, stream started, finished with
the log row — and an observer that raises never fails the request."""
from app.observability import RequestObservers
from tests.conftest import create_key


class Seen:
    def __init__(self):
        self.events = []

    def request_started(self, record):
        self.events.append(("started", record.row["request_id"]))

    def stream_started(self, record):
        self.events.append(("stream", record.row["request_id"]))

    def request_finished(self, row, record):
        self.events.append(("finished", row["request_id"], row["status_code"], row["model"]))


class Broken:
    def request_finished(self, row, record):
        raise RuntimeError("observer bug")


def test_observers_see_each_request_and_a_broken_one_fails_nothing(app):
    seen = Seen()
    app.extensions["gateway"].observers = RequestObservers(Broken(), seen)
    key = create_key(app)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    body = {"model": "mock-echo", "messages": [{"role": "user", "content": "hi"}]}
    plain = client.post("/v1/chat/completions", json=body, headers=headers)
    streamed = client.post("/v1/chat/completions", json={**body, "stream": True}, headers=headers)
    streamed.get_data()
    refused = client.post("/v1/chat/completions", json={**body, "model": "nope"},
                          headers=headers)
    assert (plain.status_code, streamed.status_code, refused.status_code) == (200, 200, 404)
    ids = [r.headers["x-request-id"] for r in (plain, streamed, refused)]
    assert seen.events == [
        ("started", ids[0]), ("finished", ids[0], 200, "mock-echo"),
        ("started", ids[1]), ("stream", ids[1]), ("finished", ids[1], 200, "mock-echo"),
        ("started", ids[2]), ("finished", ids[2], 404, "nope")]
