"""A tiny threaded TCP forwarder for tests: 127.0.0.1:<port> → target, which a test can switch to
"refuse" (listener closed, so connects get ECONNREFUSED; open connections reset), to "silence"
(a network partition: connections stay open and new ones are accepted, but nothing gets
through in either direction) and back to "forward" (listening again on the same port)."""
import socket
import struct
import threading


def _reset(sock):
    """Abort a connection: RST instead of FIN, and wake a thread blocked reading it."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


class TcpProxy:
    def __init__(self, target_host="127.0.0.1", target_port=5432):
        self.target = (target_host, target_port)
        self.port = 0
        self.connections = 0  # accepted since start
        self._listener = None
        self._lock = threading.Lock()
        self._open = set()  # sockets of live connections (both sides)
        self._silent = False
        self._held = []  # connections accepted while silent: never answered

    def start(self):
        self.forward()
        return self

    @property
    def forwarding(self):
        return self._listener is not None

    def silence(self):
        """Drop everything silently, as a partitioned network does."""
        self._silent = True
        if self._listener is None:
            self.forward()
            self._silent = True

    def forward(self):
        """Listen (again, on the same port) and forward every new connection."""
        with self._lock:
            held, self._held = self._held, []
            was_silent, self._silent = self._silent, False
            sockets = list(self._open) if was_silent else []
            if was_silent:
                self._open = set()
        for sock in held + sockets:  # what the partition held is broken for good
            _reset(sock)
        with self._lock:
            if self._listener is not None:
                return
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(128)
            self.port = listener.getsockname()[1]
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def refuse(self):
        """Stop listening and reset every open connection: the target looks down."""
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._open = list(self._open), set()
        if listener is not None:
            _reset(listener)
        for sock in sockets:
            _reset(sock)

    stop = refuse

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by refuse()
            if self._silent:
                with self._lock:
                    self._held.append(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                if self._listener is not listener:  # refused meanwhile
                    _reset(client)
                    _reset(upstream)
                    continue
                self.connections += 1
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source, sink):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if not self._silent:
                    sink.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(source)
                self._open.discard(sink)
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
