"""Keep a stream alive while the upstream is silent (thinking models can pause for minutes):
a ping frame after every `interval` seconds of silence.

Where the server can write to the client at once (send_now: gevent workers, server/handler.py),
the frames are read in the response's own greenlet and each wait for the upstream pings through
it (app/vendors/silence.py). Elsewhere (flask run, the tests' threaded server) a reader thread
pulls frames into a small queue; the response side waits on it and pings on its timeout. Frames
that queued up while the response side was busy leave together in one write.
"""
import queue
import threading

from ..vendors.silence import pinging

_END = object()
DRAIN = 64  # at most this many queued frames are joined into one write


def with_keepalive(frames, interval, ping, on_abandon, send_now=None):
    """frames, with `ping` inserted after each `interval` s without one (sent with send_now
    when given). on_abandon() is called when the client goes away from a reader thread; it must
    make the reader's blocking read return (close the upstream), since a generator running in
    another thread cannot be closed from here."""
    if interval and send_now is not None:
        return pinging(frames, interval, send_now, ping)
    return _with_reader_thread(frames, interval, ping, on_abandon)


def _with_reader_thread(frames, interval, ping, on_abandon):
    if not interval:
        yield from frames
        return
    handoff = queue.Queue(maxsize=32)
    abandoned = threading.Event()

    def put(item):
        while not abandoned.is_set():
            try:
                handoff.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def read():
        try:
            for item in frames:
                put(item)
                if abandoned.is_set():
                    return
            put(_END)
        except BaseException as exc:  # handed to the response side, which raises it there
            put(exc)

    threading.Thread(target=read, name="stream-reader", daemon=True).start()
    finished = False
    try:
        while True:
            try:
                item = handoff.get(timeout=interval)
            except queue.Empty:
                yield ping
                continue
            batch = [item]
            while len(batch) < DRAIN and isinstance(batch[-1], bytes):
                try:
                    batch.append(handoff.get_nowait())
                except queue.Empty:
                    break
            if not isinstance(batch[-1], bytes):  # the end, or the reader's exception
                item = batch.pop()
                if batch:
                    yield b"".join(batch)
                finished = True
                if item is _END:
                    return
                raise item
            yield b"".join(batch) if len(batch) > 1 else item
    finally:
        if not finished:
            abandoned.set()
            on_abandon()
