"""The crash harness's variables are checked when the process starts, not at the crash point.

Bug: ``LIVESESSION_CRASH_AT=before_send:x`` (or ``LIVESESSION_PAUSE_AT`` with such a count)
read its count with ``int()`` only when the crash point was reached, so a junk count raised
``ValueError`` in the middle of a run and left it half-made. Now the command refuses it
before anything is written, in one line, exit 2; and a session made from Python refuses it
as it starts.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from livesession._support.crash import LABELS

from crash_harness import SUBPROCESS_TIMEOUT_S


def _run(tmp_path, variable: str, spec: str, *command: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVESESSION_")}
    env[variable] = spec
    return subprocess.run(
        [sys.executable, *command],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
        check=False,
    )


def _refused_dryrun(tmp_path, variable: str, spec: str) -> subprocess.CompletedProcess[str]:
    """A CLI dry run armed with ``variable=spec``, which must exit 2 having made no run."""
    out = tmp_path / "runs"
    proc = _run(
        tmp_path, variable, spec, "-m", "livesession.cli", "dryrun", "--steps", "200",
        "--out", str(out), "-q",
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert not out.exists()
    return proc


@pytest.mark.parametrize("variable", ["LIVESESSION_CRASH_AT", "LIVESESSION_PAUSE_AT"])
@pytest.mark.parametrize("spec", ["before_send:x", "before_send:0", "before_send:1_0", ":2"])
def test_a_junk_count_is_refused_before_the_run(tmp_path, variable, spec):
    proc = _refused_dryrun(tmp_path, variable, spec)
    assert proc.stderr == (
        f"livesession: error: {variable}={spec!r} is not LABEL or LABEL:N (N: the hit it acts "
        "at, from 1)\n"
    )


def test_a_session_made_from_python_refuses_it_as_it_starts(tmp_path):
    script = (
        "from livesession import ConfigError, DryrunConfig, create_run\n"
        "try:\n"
        "    create_run(DryrunConfig.from_mapping({'steps': 200}), 'runs')\n"
        "except ConfigError as exc:\n"
        "    print(exc)\n"
    )
    proc = _run(tmp_path, "LIVESESSION_CRASH_AT", "before_send:x", "-c", script)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("LIVESESSION_CRASH_AT='before_send:x' is not LABEL or LABEL:N")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("variable", ["LIVESESSION_CRASH_AT", "LIVESESSION_PAUSE_AT"])
@pytest.mark.parametrize("spec", ["step:900", "before-send:2", "write_metrics"])
def test_a_label_no_crash_point_carries_is_refused_before_the_run(tmp_path, variable, spec):
    """Bug: a label no crash point carries (a typo, or a guessed ``step:900``) armed nothing,
    and the drill's run went on to COMPLETED without a word: refused as a junk count is."""
    proc = _refused_dryrun(tmp_path, variable, spec)
    assert proc.stderr.startswith(
        f"livesession: error: {variable}={spec!r} names no crash point (a typo would never "
        "act): one of after_cancel, after_flatten, after_send, before_send, checkpoint,"
    )
    assert proc.stderr.count("\n") == 1


def test_every_crash_point_in_the_package_is_a_known_label():
    """``LABELS`` lists what the code carries: a new crash point must be named there."""
    src = Path(__file__).resolve().parents[1] / "src" / "livesession"
    used = set()
    for path in src.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r'crashpoint\("([a-z_]+)"\)', text))
    assert used, "no crash point found: the pattern no longer matches the code"
    assert used <= LABELS, used - LABELS
    assert {"before_send", "after_send", "after_flatten", "after_cancel"} <= used
