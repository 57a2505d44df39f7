"""gunicorn's sync worker (quiet about malformed requests, app/ops/gunicorn_workers.py),
which, told to stop, stops accepting at once and answers every connection it accepted.

On SIGTERM a sync worker finishes the request it holds and exits. Connections that the
kernel had already accepted for the listening socket, waiting in its queue for a worker,
were then reset when the last worker closed the socket: 5 of 8 queued requests, POSTs
among them, in the issue 12 test; behind nginx they become 502s that nginx does not retry.
A first fix kept taking queued connections until the queue was empty or half of
``graceful_timeout`` had passed; under steady traffic the queue never empties, so the host
went on accepting for ten seconds and then reset whoever had arrived last (issue 25).

Now, once told to stop, the worker takes what is queued at that moment and, when the
whole server is stopping, shuts the listening socket down: it is shared by every worker,
so from then on a new connection is refused at once (a refused connection is safe for any
client or load balancer to retry elsewhere) instead of queueing for a server that will not
serve it. Then it answers each connection it took, until half of ``graceful_timeout``;
any left after that get a 503, never a reset.

A reload (``kill -HUP``, a deploy) also stops the old workers, but new workers serve the
same socket, which must stay open: the worker tells the two apart by whether the gunicorn
master still holds the socket (it closes its copy before stopping the workers, and keeps
it on a reload), read from ``/proc``. Where that cannot be read (another system, workers
run as another user), the socket is left open, as on a reload.

Used when ``GUNICORN_THREADS`` is 1 (gunicorn.conf.py). A load balancer should still be
told first ("drain, then stop", docs/operations.md): refused is better than reset, and
not sent at all is better still.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import time

from app.ops.gunicorn_workers import QuietSyncWorker, error_response

# accept() on a listening socket with nothing queued (EAGAIN), or one that another worker
# has already shut down (EINVAL).
_NOTHING_TO_TAKE = frozenset({errno.EAGAIN, errno.EWOULDBLOCK, errno.EINVAL})


class QueueServingSyncWorker(QuietSyncWorker):
    """Also answers malformed requests without echoing them (gunicorn_workers.py)."""

    def run(self) -> None:
        super().run()
        if self.is_parent_alive():
            self.serve_queued_connections()

    def serve_queued_connections(self) -> None:
        deadline = time.monotonic() + self.cfg.graceful_timeout / 2
        stopping = not any(self.master_holds(listener) for listener in self.sockets)
        taken = []
        for listener in self.sockets:
            taken.extend(self.take_queued(listener))
            if stopping:
                # Shared by every worker: none accepts anything more, and a new
                # connection is refused at once rather than queued and then reset.
                with contextlib.suppress(OSError):
                    listener.shutdown(socket.SHUT_RDWR)
        quick = getattr(self, "quick_listener", None)  # app/serving/quick_lane.py
        if stopping and quick is not None:
            # A host that is stopping is not alive either: its quick port refuses too.
            with contextlib.suppress(OSError):
                quick.shutdown(socket.SHUT_RDWR)
        for listener, client, addr in taken:
            self.notify()
            if time.monotonic() < deadline:
                client.setblocking(True)
                self.handle(listener, client, addr)
            else:
                with contextlib.suppress(OSError):
                    client.sendall(error_response(503, "Service Unavailable"))
                client.close()

    def take_queued(self, listener) -> list:
        """Every connection waiting in the listening socket's queue now; never waits for
        one (the listening sockets are non-blocking in a sync worker)."""
        taken = []
        while True:
            try:
                client, addr = listener.accept()
            except OSError as error:
                if error.errno in _NOTHING_TO_TAKE:
                    return taken
                if error.errno != errno.ECONNABORTED:
                    raise
                continue
            taken.append((listener, client, addr))

    def master_holds(self, listener) -> bool:
        """Whether the gunicorn master still has this listening socket open: yes on a
        reload (new workers will serve it), no when the whole server is stopping. Yes
        when it cannot be told."""
        target = f"socket:[{os.fstat(listener.fileno()).st_ino}]"
        fd_dir = f"/proc/{self.ppid}/fd"
        try:
            descriptors = os.listdir(fd_dir)
        except OSError:
            return True
        for descriptor in descriptors:
            with contextlib.suppress(OSError):
                if os.readlink(f"{fd_dir}/{descriptor}") == target:
                    return True
        return False
