"""A long dry run draws its progress bar on stderr, the terminal; stdout stays plain.

The summary on stdout may be piped into a file or a script while the operator watches the
terminal: the bar must not end up in it.
"""

from __future__ import annotations

from pathlib import Path

from _terminal import cli_on_terminal


def test_a_long_dry_run_draws_its_bar_on_stderr_only(tmp_path: Path) -> None:
    done, drawn = cli_on_terminal(
        "dryrun", "--steps", "20000", "--durability", "none", "--out", str(tmp_path),
        "--run-id", "bar",
    )  # fmt: skip
    assert done.returncode == 0
    assert b"dry run" in drawn
    assert b"\x1b[" not in done.stdout  # no terminal control sequences in the summary
    assert b"dry run" not in done.stdout
    assert b"bar" in done.stdout  # the summary names the run
