"""A real clamd for the tests: Debian's clamav-daemon (scripts/ensure-clamav.sh), started
once per test session on a Unix socket of its own, with a signature database the tests
write: the EICAR test string, the industry's harmless "this is a virus" file. freshclam
cannot download here, and the tests need nothing else. Starting takes about a second
(no main.cvd to load)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from app.records import clamd

# The EICAR test file (eicar.org): 68 bytes every antivirus reports, harmless by design.
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
SIGNATURE = "Intake.Test.EICAR"
CLAMD = os.environ.get("CLAMD_PATH", "/usr/sbin/clamd")
_START_SECONDS = 30


def clamd_missing_reason() -> str | None:
    if shutil.which(CLAMD) is None:
        return (
            f"no clamd at {CLAMD} (scripts/ensure-clamav.sh installs Debian's clamav-daemon;"
            " or set CLAMD_PATH)"
        )
    return None


@dataclass
class ClamdServer:
    socket: Path
    process: subprocess.Popen

    @property
    def address(self) -> str:
        return str(self.socket)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_clamd(directory: Path) -> ClamdServer:
    database = directory / "db"
    database.mkdir()
    # An .ndb body signature: name, any file type (0), anywhere (*), the bytes in hex.
    (database / "intake-test.ndb").write_text(f"{SIGNATURE}:0:*:{EICAR.hex()}\n")
    socket = directory / "clamd.sock"
    config = directory / "clamd.conf"
    config.write_text(
        "\n".join(
            [
                f"LocalSocket {socket}",
                f"DatabaseDirectory {database}",
                f"TemporaryDirectory {directory}",
                f"LogFile {directory / 'clamd.log'}",
                "Foreground yes",
                # Above RECORDS_MAX_FILE_MB, so a refusal is ours and not clamd's.
                "StreamMaxLength 30M",
            ]
        )
        + "\n"
    )
    process = subprocess.Popen(  # noqa: S603
        [CLAMD, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    server = ClamdServer(socket, process)
    settings = clamd.ClamdSettings(address=str(socket), timeout=5)
    deadline = time.monotonic() + _START_SECONDS
    while not clamd.ping(settings):
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            log = (
                (directory / "clamd.log").read_text() if (directory / "clamd.log").exists() else ""
            )
            raise RuntimeError(f"clamd did not start: {log[-500:]}")
        time.sleep(0.1)
    return server
