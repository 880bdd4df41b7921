"""The report as a governance reviewer reads it: when, how often, and who.

Times under a clock that is not simulated time (``--clock system``):

Such a clock stamps ``ts_utc`` with the moment the process wrote each record, while the
session's own time (``ts_sim``) walks the data file's bars. The report once added the
first record's difference of the two to every ``ts_sim``, so a run over a March morning's
minute bars, run in December, read as if it had traded in December, over a span neither
clock ever showed. Its times are now the data's, with the clock's own said apart.

Counts and names: one kill switch was counted as two kills (its ``KILL_SWITCH`` and its
``KILL_SWITCH_FLAT``), one strategy error as two faults (the error and the move into
ERROR_REQUIRES_OPERATOR), and the names the CLI records (``SIGNAL_SIGUSR1``, the operator
``cli`` of its own acknowledgement) were left for the reviewer to decode.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from pathlib import Path

import orjson

from _eurusd import EURUSD_TOML, eurusd_csv
from livesession import DryrunConfig, create_run
from livesession.report import render_report

from _helpers import cli_child

BARS = 150
FIRST_BAR = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
LAST_BAR = FIRST_BAR + dt.timedelta(minutes=BARS - 1)
_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")


def _wall_clock_run(tmp_path: Path) -> Path:
    """Minute bars of 2026-03-02 on the system clock: killed (SIGKILL) and resumed."""
    eurusd_csv(tmp_path / "eurusd.csv", BARS)
    toml = (
        f'run_id = "wall"\nsteps = {BARS}\nclock_mode = "system"\ncheckpoint_every = 40\n'
        + EURUSD_TOML
    )
    (tmp_path / "run.toml").write_text(toml, encoding="utf-8")
    crashed = cli_child(
        tmp_path, "dryrun", "-c", "run.toml", "--out", "runs", "-q", crash_at="checkpoint:3"
    )
    assert crashed.returncode == -9, crashed.stderr
    resumed = cli_child(tmp_path, "resume", "runs/wall", "-q")
    assert resumed.returncode == 0, resumed.stderr
    return tmp_path / "runs" / "wall"


def _text(document: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", document)).split())


def test_times_are_the_datas_and_the_clock_is_said_apart(tmp_path):
    """Every time shown is a bar's; the wall clock's span is named as the clock's."""
    run = _wall_clock_run(tmp_path)
    text = _text(render_report(run))

    first = orjson.loads((run / "events.jsonl").read_bytes().splitlines()[0])
    wall = dt.datetime.fromisoformat(first["ts_utc"]).strftime("%Y-%m-%d %H:%M:%S")
    span = f"{FIRST_BAR:%Y-%m-%d %H:%M:%S} to {LAST_BAR:%Y-%m-%d %H:%M:%S} UTC"
    assert f"{span}, the run's simulated time" in text
    clock = re.search(r"its clock stamped the records from (\S+ \S+) to (\S+ \S+) UTC", text)
    assert clock is not None
    assert clock.group(1) == wall
    # Nor is the config's step interval the pace: the bars are a minute apart by their times.
    assert "step interval (ms) 60000 (a data file's bars keep their own times)" in text
    # The longest time between two records is the clock's too, said as such.
    longest = re.search(r"; the longest time by it between two records .*? UTC in step", text)
    assert longest is not None
    shown = _TIME.findall(text.replace(clock.group(0), "").replace(longest.group(0), ""))
    assert shown
    low, high = f"{FIRST_BAR:%Y-%m-%d %H:%M:%S}", f"{LAST_BAR:%Y-%m-%d %H:%M:%S}"
    assert all(low <= moment <= high for moment in shown), sorted(set(shown))


def test_a_resume_is_placed_at_the_step_it_resumed_from(tmp_path):
    """Its audit record's time is the wall's; the flag sits at its step's bar."""
    run = _wall_clock_run(tmp_path)
    text = _text(render_report(run))

    resume = next(
        orjson.loads(line)
        for line in (run / "audit.jsonl").read_bytes().splitlines()
        if b'"C2_RESUME"' in line
    )
    step = resume["payload"]["from_step"]
    at = FIRST_BAR + dt.timedelta(minutes=step - 1)
    assert f"{at:%Y-%m-%d %H:%M:%S} resume C2_RESUME from step {step}" in text
    # What the resume set aside is whole steps past the checkpoint, counted in bytes.
    torn = resume["payload"]["torn_bytes"]
    assert torn["events.jsonl"] > 1000, torn
    said = ", ".join(f"{k} {v:,} B" for k, v in sorted(torn.items()) if v)
    assert f"from step {step} (set aside in .torn files: {said})" in text


def test_a_run_refused_at_preflight_on_the_system_clock_shows_the_runs_time(tmp_path):
    """Bug: a run on the system clock refused at preflight (every record at its start
    time, stamped within one second of the wall) read its times on the wall, the header
    ``2026-12-05 09:14:02 to 2026-12-05 09:14:02 UTC`` and each preflight check at that
    time, as if the run's own time were then: with no step to tell the clocks apart, the
    report took the wall's difference for a simulated clock's offset. Its times are the
    run's (the start time), with the clock's said apart, as for any system-clock run."""
    cfg = DryrunConfig(run_id="refused", steps=5, clock_mode="system", enabled=True)
    with create_run(cfg, tmp_path) as session:
        assert not session.preflight()
    text = _text(render_report(tmp_path / "refused"))
    first = orjson.loads((tmp_path / "refused" / "events.jsonl").read_bytes().splitlines()[0])
    wall = dt.datetime.fromisoformat(first["ts_utc"]).strftime("%Y-%m-%d %H:%M:%S")
    assert (
        "2026-01-01 00:00:00 to 2026-01-01 00:00:00 UTC, the run's simulated time, as every "
        f"time in this report; its clock stamped the records from {wall} to "
    ) in text
    assert f"{wall} live_trading_disabled" not in text
    assert "2026-01-01 00:00:00 live_trading_disabled FAILED" in text


class _RaisesAt:
    """A strategy that raises at its ``at``-th bar (the session's STRATEGY_ERROR)."""

    strategy_id = "raises"

    def __init__(self, at: int) -> None:
        self.at, self.n = at, 0

    def on_bar(self, bar, view):
        self.n += 1
        if self.n == self.at:
            raise RuntimeError("the model file is gone")
        return []

    def get_state(self):
        return {"n": self.n}

    def set_state(self, state):
        self.n = state["n"]


def _legend(text: str) -> str:
    found = re.search(r"┆ kill \(\d+\).*?┆ fault \(\d+\)", text)
    assert found is not None
    return found.group(0)


def test_one_kill_by_livesession_kill_is_one_kill_and_says_so(tmp_path):
    """The kill switch and its flat are one kill; SIGNAL_SIGUSR1 is said in words."""
    session = create_run(DryrunConfig(run_id="killed", steps=40, durability="none"), tmp_path)
    session.preflight()
    session.activate()
    session.run_n_steps(20)
    assert session.kill("SIGNAL_SIGUSR1")
    session.run_n_steps(20)
    session.close()
    text = _text(render_report(tmp_path / "killed"))

    assert _legend(text) == "┆ kill (1) ┆ halt (0) ┆ resume (0) ┆ operator (0) ┆ fault (0)"
    assert "step interval (ms) 60000 price tick" in text  # the demo walk: it is the pace
    assert "KILL_SWITCH: reason SIGNAL_SIGUSR1 (the signal livesession kill sends)" in text
    assert "KILL_SWITCH_FLAT" in text  # still listed and drawn: only the count is of kills
    row = re.search(
        r"kill switch: SIGNAL_SIGUSR1 \(the signal livesession kill sends\) 1 (\S+ \S+) (\S+ \S+)",
        text,
    )
    assert row is not None
    assert row.group(1) == row.group(2)  # one kill: its first time is its last


def test_one_strategy_error_is_one_fault_and_the_cli_is_no_person(tmp_path):
    """The error and the move it caused are one fault; the CLI's own ack is said as such."""
    config = DryrunConfig(run_id="raised", strategy_id="raises", steps=40, durability="none")
    session = create_run(config, tmp_path, strategy=_RaisesAt(15))
    session.run_to_end(40, operator="cli")
    session.close()
    text = _text(render_report(tmp_path / "raised"))

    assert _legend(text) == "┆ kill (0) ┆ halt (1) ┆ resume (0) ┆ operator (1) ┆ fault (1)"
    assert (
        "OPERATOR_ACK: operator cli (the livesession CLI itself, not a person: after a "
        "strategy or feed error it acknowledges the fault to cancel, flatten and stop the run)"
    ) in text


class _RaisesMarkup(_RaisesAt):
    """Raises with a message that holds markup, quotes and an ampersand."""

    def on_bar(self, bar, view):
        self.n += 1
        if self.n == self.at:
            raise ValueError("price <b>& 'x' went bad")
        return []


def _fault_rows(document: str) -> list[str]:
    """The notable events' fault rows, as the page holds them (escaped)."""
    return re.findall(r"<tr><td>[^<]*</td><td>fault</td><td>([^<]*)</td></tr>", document)


def test_a_faults_detail_reads_as_text_not_as_a_python_dict(tmp_path):
    """Bug: the move into ERROR_REQUIRES_OPERATOR showed its detail as Python's repr of a
    dict (`detail {'error': 'ValueError', 'message': ...}`). It reads `key: value` now,
    escaped for the page like every other cell."""
    config = DryrunConfig(run_id="markup", strategy_id="raises", steps=20, durability="none")
    session = create_run(config, tmp_path, strategy=_RaisesMarkup(5))
    session.run_to_end(20)
    session.close()
    document = render_report(tmp_path / "markup")

    [*_, moved] = _fault_rows(document)
    assert moved == (
        "DRYRUN_ACTIVE -&gt; ERROR_REQUIRES_OPERATOR: reason STRATEGY_ERROR, detail "
        "(error: ValueError; message: price &lt;b&gt;&amp; &#x27;x&#x27; went bad)"
    )
    assert "{&#x27;error&#x27;" not in document
    assert "<b>&" not in document  # the message's markup never reaches the page as markup


def test_a_strategy_errors_row_names_its_message(tmp_path):
    """Bug: the STRATEGY_ERROR row said `error ValueError` and no more: its message was on
    the next row only, the move into ERROR_REQUIRES_OPERATOR. The row that names the fault
    says its message now."""
    config = DryrunConfig(run_id="said", strategy_id="raises", steps=20, durability="none")
    session = create_run(config, tmp_path, strategy=_RaisesMarkup(5))
    session.run_to_end(20)
    session.close()
    document = render_report(tmp_path / "said")

    [error, *_] = _fault_rows(document)
    assert error == "STRATEGY_ERROR: error ValueError: price &lt;b&gt;&amp; &#x27;x&#x27; went bad"
    assert "STRATEGY_ERROR: error ValueError: price <b>& 'x' went bad" in _text(document)


def _data_row(tmp_path, run_id, rows):
    """The report's text of a two-bar run on a data file of ``rows`` (after the header)."""
    data = tmp_path / f"{run_id}.csv"
    data.write_text("timestamp,open,high,low,close,volume\n" + rows, encoding="utf-8")
    cfg = DryrunConfig(run_id=run_id, feed=f"csv:{data}", symbol="X", steps=2)
    with create_run(cfg, tmp_path / "runs") as session:
        session.run_to_end(2)
    return _text(render_report(tmp_path / "runs" / run_id))


def test_the_data_file_s_span_is_in_utc_as_every_time_of_the_report(tmp_path):
    """Bug: the identity's data-file row showed run.json's first and last times as the file
    writes them (``2026-03-29T00:30:00+01:00``), beside a report whose every other time is
    UTC: now in UTC, labelled, then as written. Epoch numbers were shown as written alone
    (``1772442000 to 1772442060, as the file writes them``): now in UTC too."""
    text = _data_row(
        tmp_path,
        "zones",
        "2026-03-29T00:30:00+01:00,1.00,1.10,0.90,1.05,7\n"
        "2026-03-29T03:30:00+02:00,1.00,1.10,0.90,1.05,7\n",
    )
    assert (
        "(2 rows, 2026-03-28 23:30:00 to 2026-03-29 01:30:00 UTC; written "
        "2026-03-29T00:30:00+01:00 to 2026-03-29T03:30:00+02:00)"
    ) in text
    text = _data_row(tmp_path, "epochs", "1772442000,1,1,1,1,7\n1772442060,1,1,1,1,7\n")
    assert (
        "(2 rows, 2026-03-02 09:00:00 to 2026-03-02 09:01:00 UTC; written 1772442000 to 1772442060)"
    ) in text


def test_a_data_file_s_epoch_milliseconds_are_given_in_utc(tmp_path):
    text = _data_row(tmp_path, "ms", "1772442000000,1,1,1,1,7\n1772442060000,1,1,1,1,7\n")
    assert (
        "(2 rows, 2026-03-02 09:00:00 to 2026-03-02 09:01:00 UTC; written 1772442000000 to "
        "1772442060000)"
    ) in text


def test_the_header_says_how_often_the_run_was_resumed_as_status_does(tmp_path):
    """A run killed twice and resumed twice says so at the top, in ``status``'s words.

    Before, its header read ``status COMPLETED · 400 of 400 steps`` as a run that never
    crashed does: the two resumes were only in a section near the page's foot, while
    ``status``, the resume's summary and the evidence lead with ``resumed 2 times, the last
    from step ...``.
    """
    from livesession.status import run_status

    (tmp_path / "run.toml").write_text('run_id = "twice"\nsteps = 400\n', encoding="utf-8")
    crash = "checkpoint:3"  # the activation's, step 100's, then dead as step 200's is saved
    first = cli_child(tmp_path, "dryrun", "-c", "run.toml", "--out", "runs", "-q", crash_at=crash)
    assert first.returncode == -9, first.stderr
    second = cli_child(tmp_path, "resume", "runs/twice", "-q", crash_at=crash)
    assert second.returncode == -9, second.stderr
    third = cli_child(tmp_path, "resume", "runs/twice", "-q")
    assert third.returncode == 0, third.stderr
    run = tmp_path / "runs" / "twice"
    said = run_status(run).resumed
    assert said.startswith("2 times, the last from step "), said

    document = render_report(run)
    header = _text(document[: document.index("</header>")])
    assert f"Resumed {said} (each is listed under Resumes, kills and operator events)" in header

    with create_run(DryrunConfig(run_id="never", steps=20), tmp_path) as session:
        session.run_to_end(20)
    never = render_report(tmp_path / "never")
    assert "Resumed" not in never[: never.index("</header>")]


def _killed_and_lifted(tmp_path: Path, *, cycles: int, every: int, steps: int) -> str:
    """The report header's text of a run killed (``desk-risk``) after ``every`` steps and
    re-enabled (``ops-7``) ``every`` steps later, ``cycles`` times over."""
    with create_run(DryrunConfig(run_id="lifted", steps=steps), tmp_path) as session:
        assert session.preflight()
        session.activate()
        for _ in range(cycles):
            session.run_n_steps(every)
            session.kill("desk-risk")
            session.run_n_steps(every)
            session.reenable_trading("ops-7")
        session.run_to_end(steps)
    document = render_report(tmp_path / "lifted")
    return _text(document[: document.index("</header>")])


def test_the_header_says_a_kill_an_operator_lifted_and_who_lifted_it(tmp_path):
    """A kill switch an operator lifted is said at the top with who lifted it, and when.

    Before, such a run's header read ``status COMPLETED · 60 of 60 steps`` as a run that
    traded throughout; the evidence leads with ``trading HALTED from step 20 until ops-7
    re-enabled it after step 40``, and the report had the kill only in Rails fired and the
    re-enable only near the page's foot.
    """
    header = _killed_and_lifted(tmp_path, cycles=1, every=20, steps=60)
    assert (
        "Halted and re-enabled: trading HALTED by the kill switch (desk-risk) from "
        "2026-01-01T00:20:00Z until ops-7 re-enabled it at 2026-01-01T00:40:00Z"
    ) in header, header


def test_the_header_says_the_first_five_lifted_halts_and_counts_the_rest(tmp_path):
    header = _killed_and_lifted(tmp_path, cycles=7, every=2, steps=40)
    assert header.count("Halted and re-enabled:") == 5
    assert "... and 2 more." in header
