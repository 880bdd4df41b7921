"""examples/fastapi_app.py under a real uvicorn server on 127.0.0.1 (an ephemeral port).

The server runs in a subprocess, as it would in production; the test reads the port from
uvicorn's start-up line, talks HTTP to it, stops the server with SIGTERM (what systemd and
``docker stop`` send) and verifies the run directory the app's session wrote.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import orjson
import pytest

from livesession.verify import verify_run

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
_RUNNING = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")
_WAIT_S = 30


class _Server:
    """``uvicorn fastapi_app:app`` on 127.0.0.1, port chosen by the kernel."""

    def __init__(self, out_dir: Path, run_id: str) -> None:
        env = dict(os.environ)
        env["LIVESESSION_APP_OUT"] = str(out_dir)
        env["LIVESESSION_APP_RUN_ID"] = run_id
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "fastapi_app:app",
                "--app-dir",
                str(EXAMPLES),
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--log-level",
                "info",
            ],
            env=env,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stderr is not None
        self.log: list[str] = []
        port: list[int] = []
        found = threading.Event()

        def read() -> None:
            assert self.proc.stderr is not None
            for line in self.proc.stderr:
                self.log.append(line)
                match = _RUNNING.search(line)
                if match and not port:
                    port.append(int(match.group(1)))
                    found.set()
            found.set()

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        if not found.wait(_WAIT_S) or not port:
            self.proc.kill()
            self.proc.wait(_WAIT_S)
            self.proc.stderr.close()
            pytest.fail(f"uvicorn did not start: {''.join(self.log)}")
        self.url = f"http://127.0.0.1:{port[0]}"

    def get(self, path: str) -> dict[str, object]:
        response = httpx.get(self.url + path, timeout=_WAIT_S)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def post(self, path: str) -> dict[str, object]:
        response = httpx.post(self.url + path, timeout=_WAIT_S)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def terminate(self) -> None:
        """SIGTERM, and the graceful shutdown ran: the app's lifespan ended cleanly.

        uvicorn re-raises the signal once it has shut down (newer versions), so the exit
        is 0 or death by SIGTERM; either way after "Application shutdown complete".
        """
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(_WAIT_S)
        finally:  # a server that hangs is not left running, nor its pipe open, past the test
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._reader.join(_WAIT_S)
            assert self.proc.stderr is not None
            self.proc.stderr.close()
        log = "".join(self.log)
        assert code in (0, -signal.SIGTERM), log
        assert "Application shutdown complete." in log, log
        assert "Traceback" not in log, log


def _events(run_dir: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in (run_dir / "events.jsonl").read_bytes().splitlines()]


def test_status_stop_and_shutdown_seal_the_run(tmp_path: Path) -> None:
    server = _Server(tmp_path, "api-stop")
    try:
        first = server.get("/status")
        assert first["run_id"] == "api-stop"
        assert first["state"] == "DRYRUN_ACTIVE"
        assert first["run_dir"] == str(tmp_path / "api-stop")
        stopped = server.post("/stop")
        assert (stopped["outcome"], stopped["state"]) == ("APPLIED", "STOPPED")
        again = server.post("/stop")
        assert again["outcome"] == "ALREADY"
        after = server.get("/status")
        assert (after["state"], after["status"], after["open_orders"]) == (
            "STOPPED",
            "COMPLETED",
            0,
        )
    finally:
        server.terminate()
    run_dir = tmp_path / "api-stop"
    assert not verify_run(run_dir).violations
    events = _events(run_dir)
    assert events[-1]["event_type"] == "SESSION_STOPPED"
    assert any(
        e["event_type"] == "STATE_CHANGED" and e["payload"]["reason"] == "POST /stop"  # type: ignore[index]
        for e in events
    )


def test_shutdown_while_running_stops_gracefully_and_seals(tmp_path: Path) -> None:
    server = _Server(tmp_path, "api-shutdown")
    try:
        before = server.get("/status")
        assert before["state"] == "DRYRUN_ACTIVE"
    finally:
        server.terminate()
    run_dir = tmp_path / "api-shutdown"
    assert not verify_run(run_dir).violations
    metrics = orjson.loads((run_dir / "metrics.json").read_bytes())
    assert metrics["status"] == "COMPLETED"
    events = _events(run_dir)
    assert events[-1]["event_type"] == "SESSION_STOPPED"
    assert events[-1]["payload"]["fsm_state"] == "STOPPED"  # type: ignore[index]
    (stop,) = [
        e["payload"]
        for e in events
        if e["event_type"] == "STATE_CHANGED" and e["payload"]["trigger"] == "request_stop"  # type: ignore[index]
    ]
    # The lifespan stopped it: by cancelling the task in run_steps, or between two batches.
    assert stop["reason"] in ("task cancelled", "server shutdown"), stop  # type: ignore[index]
