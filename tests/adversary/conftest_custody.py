"""Helpers for the secret-custody tests: a capture server that records every byte it is sent.

It speaks just enough HTTP to answer like a provider (a 200 with a small JSON body), but records
raw bytes per connection, so a TLS handshake or a half-sent request counts as a delivery attempt
too. Bind it on another loopback address (127.0.0.2) to play a host the operator never approved.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_REPLY = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}")


class CaptureServer:
    def __init__(self, host: str) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(64)
        self.host, self.port = self.sock.getsockname()[:2]
        self.connections: list[bytes] = []  # what each connection sent
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"capture-{host}", daemon=True)
        self._thread.start()

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        data = b""
        recorded = False
        conn.settimeout(2.0)
        try:
            while b"\r\n\r\n" not in data and len(data) < 1 << 20:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            # Record before answering: once the reply is out, the gateway answers its client and the
            # test may read received() at once, before a record made after the reply would be there.
            self._record(data)
            recorded = True
            if data[:4].isalpha():  # looks like HTTP: answer, so a client does not retry elsewhere
                conn.sendall(_REPLY)
        except OSError:
            pass
        finally:
            if not recorded:
                self._record(data)
            conn.close()

    def _record(self, data: bytes) -> None:
        with self._lock:
            self.connections.append(data)

    def received(self) -> bytes:
        with self._lock:
            return b"".join(self.connections)

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        self._thread.join(timeout=2)


@contextmanager
def capture_server(host: str) -> Iterator[CaptureServer]:
    server = CaptureServer(host)
    try:
        yield server
    finally:
        server.close()
