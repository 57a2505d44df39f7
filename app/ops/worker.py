"""gunicorn's sync worker (quiet about malformed requests, app/ops/gunicorn_workers.py),
which serves the connections already queued when it is told to
stop instead of leaving them to be reset.

On SIGTERM (a stop, or the old workers of a ``kill -HUP`` reload) a sync worker finishes
the request it holds and exits. Connections that the kernel had already accepted for the
listening socket, waiting in its queue for a worker, were then reset when the last worker
closed the socket: 5 of 8 queued requests, POSTs among them, in the issue 12 test; behind
nginx they become 502s that nginx does not retry. This worker, once told to stop, keeps
taking queued connections, without waiting for new ones, until the queue is empty or half
of ``graceful_timeout`` has passed, and finishes each before exiting.

Used when ``GUNICORN_THREADS`` is 1 (gunicorn.conf.py). Stopping a host under steady
traffic still needs "drain, then stop" (docs/operations.md): a socket that closes while
clients keep connecting must refuse someone.
"""

from __future__ import annotations

import errno
import time

from app.ops.gunicorn_workers import QuietSyncWorker

_QUEUE_EMPTY = frozenset({errno.EAGAIN, errno.EWOULDBLOCK})


class QueueServingSyncWorker(QuietSyncWorker):
    """Also answers malformed requests without echoing them (gunicorn_workers.py)."""

    def run(self) -> None:
        super().run()
        if self.is_parent_alive():
            self.serve_queued_connections()

    def serve_queued_connections(self) -> None:
        deadline = time.monotonic() + self.cfg.graceful_timeout / 2
        for listener in self.sockets:
            # The listening sockets are non-blocking in a sync worker: accept() raises
            # EAGAIN as soon as nothing is queued, and never waits for a new connection.
            while time.monotonic() < deadline:
                self.notify()
                try:
                    self.accept(listener)
                except OSError as error:
                    if error.errno in _QUEUE_EMPTY:
                        break
                    if error.errno != errno.ECONNABORTED:
                        raise
