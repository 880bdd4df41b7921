"""``.ci/setup_postgres.sh`` never puts the role's password on a command line.

A command's arguments are readable by every user of the machine (``ps``,
``/proc/PID/cmdline``), its environment and its standard input are not. The script runs
here against stub server binaries (``LIVESESSION_PG_BINDIR``) that record every call's
arguments, its standard input and the ``PGPASSWORD`` it was given.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / ".ci" / "setup_postgres.sh"
PASSWORD = "Sx9-argv_secret_4711"

STUB = """#!/usr/bin/env bash
name="$(basename "$0")"
printf '%s %s\\n' "$name" "$*" >> "{calls}"
case "$name" in
postgres) echo "postgres (PostgreSQL) 16.0" ;;
initdb) echo 16 > "$2/PG_VERSION"; : > "$2/pg_hba.conf" ;;
pg_ctl) [ "$1" != status ] || exit 3 ;;
psql)
    printf 'PGPASSWORD=%s\\n' "${{PGPASSWORD:-}}" >> "{calls}"
    case " $* " in
    *" -tAc "*) echo 1 ;;
    *" -c "*) ;;
    *) cat >> "{stdin}" ;;
    esac
    ;;
esac
exit 0
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(name="stubs")
def _stubs():
    """A directory every user may read (the script runs the server's tools as another user
    when it is root), holding the stub binaries and the files they record to."""
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    top = Path(tempfile.mkdtemp(prefix="livesession-setup-pg-"))
    try:
        top.chmod(0o755)
        bindir = top / "bin"
        bindir.mkdir(mode=0o755)
        bindir.chmod(0o755)
        calls, stdin = top / "calls.log", top / "stdin.log"
        for log in (calls, stdin):
            log.touch()
            log.chmod(0o666)
        text = STUB.format(calls=calls, stdin=stdin)
        for name in ("postgres", "initdb", "pg_ctl", "pg_isready", "psql"):
            (bindir / name).write_text(text, encoding="utf-8")
            (bindir / name).chmod(
                stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH
            )
        yield top
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_the_password_goes_by_stdin_and_the_environment_never_by_argv(stubs):
    # Without the variable the script would start a real server from the stubs' directory.
    assert "LIVESESSION_PG_BINDIR" in SCRIPT.read_text(encoding="utf-8")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LIVESESSION_PG_BINDIR": str(stubs / "bin"),
        "LIVESESSION_PG_DIR": str(stubs / "cluster"),
        "LIVESESSION_PG_PORT": str(_free_port()),
        "LIVESESSION_PG_ROLE": "ops_ci",
        "LIVESESSION_PG_PASSWORD": PASSWORD,
    }
    done = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stderr
    assert done.stdout.startswith("export LIVESESSION_PG_DSN='postgresql://ops_ci:" + PASSWORD)
    calls = (stubs / "calls.log").read_text(encoding="utf-8").splitlines()
    argv = [line for line in calls if not line.startswith("PGPASSWORD=")]
    assert any(line.startswith("psql ") for line in argv)
    assert [line for line in argv if PASSWORD in line] == []
    # The role still gets the password (on psql's stdin), and the check connects with it.
    assert f"ALTER ROLE ops_ci PASSWORD '{PASSWORD}'" in (stubs / "stdin.log").read_text()
    assert calls[-1] == f"PGPASSWORD={PASSWORD}"
