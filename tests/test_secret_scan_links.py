"""The evidence's secret scan reads the run's own files: a symlink among them is not followed.

A link planted in a run directory (``notes -> /root/.ssh/id_rsa``, ``x -> /proc/kcore``) was
followed: ``evidence``, run as the desk's user or root, read whatever it led to, wrote
``notes:2: private_key`` into the bundle handed to reviewers (which of another user's files
hold a key, and on which line) and failed a clean run for a file that is not in it (a copy
of the run holds the link, not its target); ``/proc/kcore`` it read without end.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from livesession.evidence import scan_secrets

pytestmark = pytest.mark.skipif(not hasattr(os, "symlink"), reason="symlinks")

_KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA1x2y3z\n-----END RSA PRIVATE KEY-----\n"


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    (run / "events.jsonl").write_text('{"seq": 1}\n')
    outside = tmp_path / "home"
    outside.mkdir()
    (outside / "id_rsa").write_text(_KEY)
    return run


def test_a_symlink_to_a_file_outside_is_not_read(run_dir: Path) -> None:
    (run_dir / "notes").symlink_to(run_dir.parent / "home" / "id_rsa")
    assert scan_secrets(run_dir, environ={}) == []


def test_a_symlink_to_a_secret_of_the_environment_s_value_is_not_read(run_dir: Path) -> None:
    (run_dir.parent / "home" / "token").write_text("Hx7pQ9zR2mK4vB8nL1wT\n")
    (run_dir / "token").symlink_to(run_dir.parent / "home" / "token")
    assert scan_secrets(run_dir, environ={"DESK_API_SECRET": "Hx7pQ9zR2mK4vB8nL1wT"}) == []


def test_the_run_s_own_files_are_still_scanned(run_dir: Path) -> None:
    (run_dir / "notes").write_text(f"ok\n{_KEY}")
    assert scan_secrets(run_dir, environ={}) == ["notes:2: private_key"]
