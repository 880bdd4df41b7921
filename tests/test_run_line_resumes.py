"""The run line's resumes (``run_ended``): every resume named in order, only of a sealed run.

An unsealed run's line says how to continue it; that it was resumed before is no part of
it (its resumes so far end in another crash, or in the process still running).
"""

from __future__ import annotations

from livesession.evidence._verdict import run_ended

_FOUND = {"sealed": True, "status": "COMPLETED", "steps": 6, "steps_planned": 6}


def _resumed(*steps: int) -> list[dict[str, object]]:
    return [{"checkpoint": True, "from_step": step} for step in steps]


def test_three_resumes_are_each_named_in_order() -> None:
    said = run_ended(_FOUND | {"resumes": _resumed(100, 200, 300)})["said"]
    assert said.endswith("; resumed after a crash 3 times, from step 100, step 200 and step 300"), (
        said
    )


def test_a_resume_from_a_checkpoint_at_step_0_is_not_from_the_start() -> None:
    """``from the start`` is a resume without a checkpoint; a checkpoint's step 0 is one."""
    said = run_ended(_FOUND | {"resumes": _resumed(0)})["said"]
    assert said.endswith("; resumed after a crash once, from step 0"), said


def test_an_unsealed_run_s_line_says_no_resume() -> None:
    found = {"sealed": False, "status": None, "steps": 6, "steps_planned": 60}
    resumed = run_ended(found | {"resumes": _resumed(2)})
    assert resumed == run_ended(found)
    assert "resumed after a crash" not in resumed["said"]
