"""``status`` and the ``resume`` summary say how often a run was resumed, and from where.

A run killed and resumed (twice, say) read to ``status`` as any other run, ``crashed`` or
``completed``, and the summary ``resume`` printed said nothing of it either: an operator or
a reviewer learnt of the resumes only from the evidence bundle, or the audit log by hand.
Both now say them (``resumed     2 times, the last from step 100``; ``--json`` ``resumes``
and ``resumed``), read from the audit log's ``C2_RESUME`` records back from its end, no
further than a budget: a long run's count beyond it is a floor, said so.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import orjson

from livesession._artifacts import names
from livesession._rundir.resumes import Resumes, resumes_of
from livesession.status import run_status

from crash_harness import KILLED, Profile, cli, dryrun

if TYPE_CHECKING:
    from pathlib import Path


def _lines(text: str, label: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(f"{label:<12}")]


def test_status_and_the_resume_summary_say_the_resumes(tmp_path: Path) -> None:
    profile = Profile(name="twice", seed=7, steps=150)
    assert dryrun(profile, tmp_path, crash_at="checkpoint:2").returncode == KILLED
    run_dir = tmp_path / profile.name
    assert _lines(cli("status", run_dir).stdout, "resumed") == []  # never resumed yet
    assert cli("resume", run_dir, "-q", crash_at="checkpoint:2").returncode == KILLED
    crashed = cli("status", run_dir)
    assert crashed.returncode == 6, crashed.stdout
    [said] = _lines(crashed.stdout, "resumed")
    assert said.startswith("resumed     once, from step "), said
    first = said.rsplit(" ", 1)[1]
    done = cli("resume", run_dir)
    assert done.returncode == 0, done.stderr
    [summary] = _lines(done.stdout, "resumed")
    assert summary.startswith("resumed     2 times, the last from step "), summary
    last = summary.rsplit(" ", 1)[1]
    assert int(last) >= int(first)
    sealed = cli("status", run_dir)
    assert sealed.returncode == 0, sealed.stdout
    assert _lines(sealed.stdout, "resumed") == [summary]
    document = json.loads(cli("status", run_dir, "--json").stdout)
    assert (document["resumes"], document["resumed"]) == (2, summary[12:])


def test_a_run_never_resumed_says_nothing_of_resumes(tmp_path: Path) -> None:
    done = cli("dryrun", "--out", tmp_path, "--run-id", "once", "--steps", "30", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["resumes"], result["resumed"]) == (0, "")
    assert _lines(cli("dryrun", "--out", tmp_path, "--steps", "30").stdout, "resumed") == []
    found = run_status(tmp_path / "once")
    assert (found.resumes, found.resumed) == (0, "")
    assert not [line for line in found.lines() if line.startswith("resumed")]


def _record(seq: int, code: str, payload: dict[str, object]) -> bytes:
    return orjson.dumps({"code": code, "payload": payload, "seq": seq}, option=orjson.OPT_SORT_KEYS)


def test_the_count_is_a_floor_past_the_budget_and_a_restart_is_from_the_start(
    tmp_path: Path,
) -> None:
    """Synthetic audit logs: only ``resumes_of``'s reading is under test here."""
    early = _record(2, "C2_RESUME", {"checkpoint": True, "from_step": 100})
    filler = b"\n".join(
        _record(n, "C2_REJECT_MAX_ORDER_QTY", {"pad": "x" * 200}) for n in range(3, 9000)
    )
    late = _record(9000, "C2_RESUME", {"checkpoint": True, "from_step": 9000})
    (tmp_path / names.AUDIT).write_bytes(b"\n".join([early, filler, late, b""]))
    assert resumes_of(tmp_path).says() == "2 times, the last from step 9000"
    floor = resumes_of(tmp_path, budget=1 << 20)
    assert floor == Resumes(count=1, last_from="step 9000", read_back=1 << 20)
    assert floor.says() == (
        "at least once, the last from step 9000 (counted in the last 1 MiB of audit.jsonl)"
    )
    over = _record(1, "C2_RESUME", {"checkpoint": False, "from_step": 0})
    (tmp_path / names.AUDIT).write_bytes(over + b"\n" + b'{"code":"C2_RESUME"')  # torn: not one
    assert resumes_of(tmp_path).says() == "once, from the start"
