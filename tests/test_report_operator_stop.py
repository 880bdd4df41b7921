"""The report lists a stop an operator asked for before the run's end as an operator event.

Bug: a run stopped by ``livesession stop`` (SIGTERM) after 1,088 of 200,000 steps showed,
under "Resumes, kills and operator events", ``operator (0)`` and ``No resume, kill switch,
halt, operator action or fault.``, while its evidence listed ``Operator actions:
request_stop('SIGNAL_SIGTERM') after step 1088`` and called the run ``STOPPED BY
OPERATOR``. A stop (``request_stop`` out of DRYRUN_ACTIVE) is an operator event now, with
its reason in words, unless the session stopped itself (its steps done, the feed ran out).
"""

from __future__ import annotations

from pathlib import Path

from _scripted import ScriptedFeed, ScriptedStrategy, at
from livesession import DryrunConfig, create_run
from livesession.report import render_report


def _run(out: Path, run_id: str, *, stop_after: int | None) -> Path:
    cfg = DryrunConfig(run_id=run_id, strategy_id="scripted", steps=6)
    feed = ScriptedFeed(["40000.00"] * 6)
    with create_run(cfg, out, feed=feed, strategy=ScriptedStrategy(at({}))) as session:
        assert session.preflight()
        session.activate()
        if stop_after is not None:
            session.run_n_steps(stop_after)
            session.request_stop("SIGNAL_SIGTERM")
        session.run_to_end(6)
    return out / run_id


def test_a_stop_by_signal_is_an_operator_event(tmp_path: Path) -> None:
    document = render_report(_run(tmp_path, "stopped", stop_after=3))
    assert "operator (1)</span>" in document
    assert (
        "<td>operator</td><td>DRYRUN_ACTIVE -&gt; STOPPING: reason SIGNAL_SIGTERM (the signal "
        "livesession stop sends, as a service manager stopping it does)</td>"
    ) in document
    assert "No resume, kill switch, halt, operator action or fault." not in document


def test_a_run_that_ran_its_steps_has_no_operator_event(tmp_path: Path) -> None:
    document = render_report(_run(tmp_path, "ran", stop_after=None))
    assert "operator (0)</span>" in document
    assert "No resume, kill switch, halt, operator action or fault." in document
