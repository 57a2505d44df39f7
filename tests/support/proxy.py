"""A TCP proxy the test controls, between the app and its database.

``hang()`` makes the database look hung, the way a stalled disk or a half-dead network
does: connections are still accepted and nothing is closed, but no byte goes through in
either direction until ``resume()``. ``drop()`` makes it die under the app: every open
connection is closed at once (a crash, a restart, a failover), and new ones go through.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections.abc import Iterator

from tests.support.servers import free_port


class HangingProxy:
    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.port = free_port()
        self._flowing = threading.Event()
        self._flowing.set()
        self._stopped = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", self.port), backlog=128)
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def hang(self) -> None:
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def drop(self) -> None:
        with self._lock:
            open_now, self._sockets = self._sockets, []
        for sock in open_now:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def close(self) -> None:
        self._stopped.set()
        self._flowing.set()
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()

    def _keep(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self._sockets.append(sock)
        return sock

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._keep(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        self._flowing.wait()
        if self._stopped.is_set():
            return
        try:
            upstream = self._keep(socket.create_connection(("127.0.0.1", self.upstream_port)))
        except OSError:
            client.close()
            return
        pair = {client: upstream, upstream: client}
        try:
            while not self._stopped.is_set():
                readable, _, _ = select.select(list(pair), [], [], 0.2)
                for sock in readable:
                    # Hung: hold whatever arrives until resumed (or closed).
                    self._flowing.wait()
                    data = sock.recv(65536)
                    if not data:
                        return
                    pair[sock].sendall(data)
        except (OSError, ValueError):  # ValueError: select() on a socket drop() closed
            return
        finally:
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.close()


def url_through(proxy: HangingProxy, url: str) -> str:
    """A PostgreSQL URL that reaches its database through the proxy."""
    host_port = url.split("@", 1)[1].split("/", 1)[0]
    return url.replace(host_port, f"127.0.0.1:{proxy.port}")


@contextlib.contextmanager
def hanging_proxy(upstream_port: int) -> Iterator[HangingProxy]:
    proxy = HangingProxy(upstream_port)
    try:
        yield proxy
    finally:
        proxy.close()
