"""`verify` of a crashed run says what is wrong, not what the crash explains.

A run killed mid-way (SIGKILL, power loss) has no end yet: its last snapshot is its
latest, not a final one, its status is still RUNNING, its last audit record is no stop, and
its `metrics.json` is the one written at its last checkpoint. `verify` said each as a
violation (`the last snapshot's trigger is not 'final'`, `the run ended with status
RUNNING`, `final step 0 but 75 BAR events`, `metrics.json: steps is 0, the run says 75`,
nine in all), under the `incomplete run` line, so that a reviewer read a corrupt run. Now
an incomplete run skips the end checks as a live one does, and lists only the missing stop
record; every check of what is there still holds (a changed line is still reported).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson
import pytest

from livesession.verify import verify_run

from crash_harness import KILLED, cli

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.broken_run("crashed runs, left unsealed on purpose")

NO_STOP = "audit.jsonl:1: the last record is C2_DRYRUN_START, not a stop"


def _crashed(tmp_path: Path, crash_at: str, steps: int = 200) -> Path:
    """A run of ``steps`` steps killed at ``crash_at`` (``LIVESESSION_CRASH_AT``)."""
    out = tmp_path / "runs"
    args = ("dryrun", "--out", out, "--run-id", "c", "--steps", str(steps), "-q")
    crashed = cli(*args, crash_at=crash_at)
    assert crashed.returncode == KILLED, crashed.stderr
    return out / "c"


@pytest.mark.parametrize(
    "crash_at",
    ["after_send:5", "checkpoint:2", "write_audit:2"],
    ids=["mid-run", "at-a-checkpoint", "in-the-seal"],
)
def test_a_crash_is_only_incomplete(tmp_path, crash_at: str):
    """Only the missing stop record, under the incomplete line; exit 1 as RUNBOOK says.

    ``write_audit:2`` dies in the seal, its final snapshot written, its stop record not:
    that snapshot is still held to the run (no ``a 'final' snapshot that is not the last``).
    """
    run = _crashed(tmp_path, crash_at)

    verified = cli("verify", run)

    assert verified.returncode == 1, verified.stdout
    assert verified.stdout.splitlines() == [
        f"incomplete run: no C2_DRYRUN_STOP; continue it with `livesession resume {run}`",
        NO_STOP,
    ]
    assert verified.stderr == f"1 violation(s) in {run}\n"
    result = verify_run(run)
    assert (result.ok, result.total, result.violations) == (False, 1, (NO_STOP,))


def test_a_crash_with_a_changed_line_still_says_it(tmp_path):
    """A middle event changed in a crashed run: the change is reported, the crash is not.

    Killed at its third checkpoint (after step 200), the one at step 100 holds the line.
    """
    run = _crashed(tmp_path, "checkpoint:3", steps=300)
    path = run / "events.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    number = next(n for n, raw in enumerate(lines, 1) if b'"ORDER_FILLED"' in raw)
    checkpoint = orjson.loads((run / "checkpoint.json").read_bytes())
    assert len(b"".join(lines[:number])) < checkpoint["recorder"]["offsets"]["events"]
    event = orjson.loads(lines[number - 1])
    event["payload"]["price"] = event["payload"]["price"][:-1] + "7"  # on the tick still
    lines[number - 1] = orjson.dumps(event, option=orjson.OPT_SORT_KEYS) + b"\n"
    path.write_bytes(b"".join(lines))

    result = verify_run(run)

    assert result.summary.startswith("corrupt run: no C2_DRYRUN_STOP, but more is wrong"), (
        result.summary
    )
    assert any(v.startswith(f"events.jsonl:{number}: event_id ") for v in result.violations)
    assert NO_STOP in result.violations
    assert any(
        v.startswith("events.jsonl: differs from what the session wrote") for v in result.violations
    )
    ends = ("trigger is not 'final'", "ended with status", "BAR events", "the run says")
    assert not [v for v in result.violations if any(end in v for end in ends)]
