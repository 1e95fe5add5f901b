"""Reading and writing server-sent events, whatever the chunking of the byte stream."""
import pytest

from app.formats.sse import DONE, KEEPALIVE_COMMENT, SSEEvent, encode, iter_events

STREAM = (
    b": this is a comment\n"
    b"event: message_start\n"
    b'data: {"type":"message_start"}\n'
    b"\n"
    b": keep-alive\n"
    b"\n"
    b'data: {"n":1}\n'
    b"\n"
    b"data: first line\n"
    b"data: second line\n"
    b"data:\n"
    b"data: fourth\n"
    b"\n"
    b"id: 7\n"
    b"retry: 1000\n"
    b"event: ping\n"
    b"data:no-space\n"
    b"\n"
    b"data:  two spaces\n"
    b"\n"
    b"event: message_stop\n"
    b"data: [DONE]\n"  # the last event: no blank line after it
)

EXPECTED = [
    SSEEvent("message_start", b'{"type":"message_start"}'),
    SSEEvent(None, b'{"n":1}'),  # the event name does not leak into the next event
    SSEEvent(None, b"first line\nsecond line\n\nfourth"),
    SSEEvent("ping", b"no-space"),
    SSEEvent(None, b" two spaces"),  # only one space after the colon is dropped
    SSEEvent("message_stop", b"[DONE]"),
]


def crlf(data):
    return data.replace(b"\n", b"\r\n")


@pytest.mark.parametrize("stream", [STREAM, crlf(STREAM)], ids=["LF", "CRLF"])
def test_whole_stream_in_one_chunk(stream):
    assert list(iter_events([stream])) == EXPECTED


@pytest.mark.parametrize("stream", [STREAM, crlf(STREAM)], ids=["LF", "CRLF"])
def test_split_in_two_at_every_byte_offset(stream):
    for offset in range(len(stream) + 1):
        chunks = [stream[:offset], stream[offset:]]
        assert list(iter_events(chunks)) == EXPECTED, f"split at byte {offset}"


@pytest.mark.parametrize("stream", [STREAM, crlf(STREAM)], ids=["LF", "CRLF"])
def test_split_into_three_chunks_at_every_pair_of_offsets(stream):
    step = 3  # every third offset for the second cut keeps this fast
    for first in range(len(stream) + 1):
        for second in range(first, len(stream) + 1, step):
            chunks = [stream[:first], stream[first:second], stream[second:]]
            assert list(iter_events(chunks)) == EXPECTED, f"cuts at {first}, {second}"


@pytest.mark.parametrize("stream", [STREAM, crlf(STREAM)], ids=["LF", "CRLF"])
def test_one_byte_chunks(stream):
    chunks = [stream[i:i + 1] for i in range(len(stream))]
    assert list(iter_events(chunks)) == EXPECTED


def test_events_are_yielded_as_soon_as_their_blank_line_arrives():
    chunks = iter([b'data: {"a":1}\n\n', b'data: {"b":2}\n\n'])
    events = iter_events(chunks)
    assert next(events) == SSEEvent(None, b'{"a":1}')
    # the first event came out before the second chunk was read
    assert next(chunks) == b'data: {"b":2}\n\n'


@pytest.mark.parametrize("stream", [
    b"",
    b": only a comment\n\n",
    b"event: ping\n\n",  # a name without data is not an event
    b"\n\n\n",
    KEEPALIVE_COMMENT,
])
def test_streams_without_data_yield_nothing(stream):
    assert list(iter_events([stream])) == []


def test_chunks_may_be_empty():
    assert list(iter_events([b"", b"data: x", b"", b"\n", b"", b"\n", b""])) == [
        SSEEvent(None, b"x")]


@pytest.mark.parametrize("data, event, frame", [
    (b'{"a":1}', None, b'data: {"a":1}\n\n'),
    (b'{"type":"ping"}', "ping", b'event: ping\ndata: {"type":"ping"}\n\n'),
    (b"", None, b"data: \n\n"),
])
def test_encode_frames(data, event, frame):
    assert encode(data, event) == frame


def test_encode_round_trips_through_iter_events():
    frames = [encode(b'{"i":%d}' % i, "delta" if i % 2 else None) for i in range(5)] + [DONE]
    stream = b"".join(frames)
    events = list(iter_events([stream[i:i + 7] for i in range(0, len(stream), 7)]))
    assert events == [SSEEvent("delta" if i % 2 else None, b'{"i":%d}' % i) for i in range(5)] + [
        SSEEvent(None, b"[DONE]")]


def test_done_and_keepalive_frames():
    assert DONE == b"data: [DONE]\n\n"
    assert KEEPALIVE_COMMENT.startswith(b":") and KEEPALIVE_COMMENT.endswith(b"\n\n")
