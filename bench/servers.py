"""Gunicorn servers for the benchmark: the app and the bare app, same config file."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One gunicorn master started with ``gunicorn -c gunicorn.conf.py TARGET``."""

    def __init__(self, name: str, target: str, env: dict[str, str], log_dir: Path):
        self.name = name
        self.target = target
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.port = 0
        self.process: subprocess.Popen | None = None

    def start(self, ready_path: str = "/") -> Server:
        self.port = free_port()
        env = {**os.environ, **self.env, "GUNICORN_BIND": f"127.0.0.1:{self.port}"}
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [gunicorn, "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{self.port}"]
                + [self.target],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_ready(ready_path)
        return self

    def _wait_ready(self, path: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.log_path}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", path)
                status = conn.getresponse().status
                conn.close()
                if status < 500:
                    # Every worker imports lazily on its first request; warm them all.
                    time.sleep(0.5)
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer on port {self.port}; see {self.log_path}")

    def worker_pids(self) -> list[int]:
        if not self.process:
            return []
        master = self.process.pid
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The command name may hold spaces; the parent pid follows the closing ')'.
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == master:
                pids.append(int(entry.name))
        return sorted(pids)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by this server's workers, past and present.

        CPU per request is the figure that a busy shared machine disturbs least: other
        processes stretch wall-clock time, not the work each request takes. Workers that
        gunicorn has replaced (max_requests) are counted through the master, which
        collects its exited children's CPU time."""
        if not self.process:
            return 0.0
        total = _cpu_of(self.process.pid, children=True)
        for pid in self.worker_pids():
            total += _cpu_of(pid, children=False)
        return total

    def stop(self) -> None:
        if not self.process or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _cpu_of(pid: int, *, children: bool) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # After the ')': utime, stime, cutime, cstime are at 11, 12, 13, 14.
    ticks = int(fields[13]) + int(fields[14]) if children else int(fields[11]) + int(fields[12])
    return ticks / _CLOCK_TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pss_mb(pid: int) -> float:
    """Proportional set size: RSS with each shared page split between its sharers, the
    worker's own share of the machine's memory."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")
