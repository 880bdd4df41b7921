"""A resume brings a simulated venue to its checkpoint: a desk's venue that raises there.

Bug: a desk's ``MockBroker`` subclass whose ``mark`` raised (a price server it asks, not
there) made ``livesession resume`` end in a traceback of 38 lines and exit 1. The resume
calls the venue's ``resume_at`` and ``mark``, the desk's code when it overrides them: what
it raises is now one line naming the step and the desk's own line, exit 2.

Bug: such a refusal came after the resume had cut the run back to its checkpoint, and left
it so (the tails in ``<file>.torn``): ``status``, ``verify``, ``report`` and ``evidence``
read a run that was not the one the crash left until the next resume. The refused resume
now puts the tails back: the run's files are as before it, byte for byte, and a crash while
it puts them back leaves a run the next resume continues.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from livesession import MockBroker, PluginError
from livesession._rundir.catchup import told_at_resume, venue_catch_up
from livesession._session.broker_guard import guard_broker

from crash_harness import KILLED, cli

_VENUE = """\
import os

from livesession import MockBroker


class Venue(MockBroker):
    simulated = True

    def mark(self, symbol, price):
        if os.environ.get("DESK_SERVICE") != "up":
            raise RuntimeError("the desk's price server is down")
        super().mark(symbol, price)


def make():
    return Venue()
"""


def _run_files(run_dir: Path) -> dict[str, bytes]:
    """The bytes of each file of ``run_dir`` but its idempotency store's (SQLite folds its
    write-ahead log into the file as the store closes: the same keys, other bytes)."""
    return {
        path.name: path.read_bytes()
        for path in sorted(run_dir.iterdir())
        if not path.name.startswith("idempotency.sqlite")
    }


def _refused_resume(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    package: str,
    venue: str,
    run_id: str,
    *,
    crash_at: str | None = None,
    service_down: bool = True,
) -> tuple[Path, str]:
    """A run on ``package``'s ``venue`` module crashed past its second checkpoint, and the
    line its resume was refused with (exit 2), the desk's service down (``DESK_SERVICE``
    unset): the runs directory and that line. The run's files, and what ``verify`` says of
    it, are checked to be as before the refused resume; ``crash_at`` instead kills the
    refused resume there (``None`` for the line), and ``service_down=False`` the resume,
    the service back."""
    plug = tmp_path / package
    plug.mkdir()
    (plug / "__init__.py").write_text("")
    (plug / "venue.py").write_text(venue)
    config = tmp_path / f"{run_id}.toml"
    config.write_text(
        f'run_id = "{run_id}"\nsteps = 60\ncheckpoint_every = 5\ndurability = "step"\n'
        f'broker = "{package}.venue:make"\n[strategy]\nfast = 2\nslow = 5\n'
    )
    runs = tmp_path / "runs"
    monkeypatch.setenv("DESK_SERVICE", "up")
    crashed = cli("dryrun", "-c", config, "--out", runs, "-q", crash_at="write_events:40")
    assert crashed.returncode == KILLED, crashed.stderr
    if service_down:
        monkeypatch.delenv("DESK_SERVICE")
    run_dir = runs / run_id
    before, verified = _run_files(run_dir), cli("verify", run_dir, cwd=tmp_path)
    assert "events.jsonl.torn" not in before
    offsets = json.loads(before["checkpoint.json"])["recorder"]["offsets"]
    assert len(before["events.jsonl"]) > offsets["events"]  # a tail the resume cuts
    proc = cli("resume", run_dir, "-q", cwd=tmp_path, crash_at=crash_at)
    if crash_at is not None:
        assert proc.returncode == KILLED, proc.stderr
        return runs, ""
    assert proc.returncode == 2, proc.stderr
    # As before the resume: not cut back to the checkpoint, its tails in <file>.torn.
    assert _run_files(run_dir) == before
    again = cli("verify", run_dir, cwd=tmp_path)
    assert (again.returncode, again.stdout, again.stderr) == (
        verified.returncode,
        verified.stdout,
        verified.stderr,
    )
    (line,) = proc.stderr.splitlines()
    return runs, line


def test_a_venue_whose_mark_raises_refuses_the_resume_in_one_line(tmp_path: Path, monkeypatch):
    runs, line = _refused_resume(tmp_path, monkeypatch, "deskmark", _VENUE, "m")
    assert line.startswith(
        "livesession: error: cannot resume run m: the broker's mark raised RuntimeError: "
        "the desk's price server is down (at "
    ), line
    assert "venue.py:11 in mark), bringing the venue to the run's checkpoint" in line
    assert line.endswith(
        "checkpoint: resume it again once the broker's mark works (nothing was changed: the "
        "tails it had cut back were put back)"
    )
    status = cli("status", runs / "m", cwd=tmp_path)
    assert status.returncode == 6, status.stdout  # crashed, resumable as before
    monkeypatch.setenv("DESK_SERVICE", "up")  # the price server back, the code unchanged
    resumed = cli("resume", runs / "m", "-q", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert cli("verify", runs / "m").returncode == 0


_SET_ASIDE = (
    "set aside   2,773 bytes in events.jsonl.torn (events.jsonl {}) that no C2_RESUME "
    "counts: a resume ended between cutting the run back and its record (killed, or refused "
    "and unable to put the tails back); the next resume counts them"
)


@pytest.mark.parametrize(
    ("crash_at", "set_aside"),
    [
        ("uncut_write", _SET_ASIDE.format("past its checkpoint")),  # its tail in both
        ("uncut_torn", ""),  # as before the resume
        ("write_audit", _SET_ASIDE.format("cut back to its checkpoint")),  # no refusal: cut
    ],
)
def test_a_crash_while_a_refused_resume_puts_the_tails_back_leaves_a_resumable_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crash_at: str, set_aside: str
):
    """Killed after the tail is back in ``events.jsonl`` (and still in its ``.torn``), or
    after its ``.torn`` was cut too (or, the venue refusing nothing, before the resume's
    record): ``status`` says crashed and resumable, and ``status`` and ``verify`` where
    the bytes set aside are, and the next resume continues the run to a verified end."""
    down = crash_at != "write_audit"  # the desk's service back: not refused, killed
    runs, _ = _refused_resume(
        tmp_path, monkeypatch, "deskcrash", _VENUE, "k", crash_at=crash_at, service_down=down
    )
    status = cli("status", runs / "k", cwd=tmp_path)
    assert status.returncode == 6, status.stdout
    assert "resumable   yes" in status.stdout
    rows = [row for row in status.stdout.splitlines() if row.startswith("set aside")]
    assert rows == ([set_aside] if set_aside else [])
    verified = cli("verify", runs / "k", cwd=tmp_path)
    assert verified.returncode == 1
    assert "incomplete run: no C2_DRYRUN_STOP; continue it with" in verified.stdout
    # verify says the bytes set aside too, where status does
    aside = "; 2,773 bytes in events.jsonl.torn that no C2_RESUME counts: a resume ended"
    assert (aside in verified.stdout) == bool(set_aside), verified.stdout
    monkeypatch.setenv("DESK_SERVICE", "up")
    resumed = cli("resume", runs / "k", "-q", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert cli("verify", runs / "k").returncode == 0


class _Stale(MockBroker):
    """A desk's venue whose ``resume_at`` raises."""

    simulated = True

    def resume_at(self, now_ns: int, journal_offset: int | None = None) -> None:
        raise KeyError("offset")


def test_the_step_that_raised_is_named():
    checkpoint = {"ts_sim": 0, "broker_journal_offset": 0, "book": {"last_price": {}}}
    with pytest.raises(PluginError, match=r"^cannot resume run r: the broker's resume_at "):
        venue_catch_up(guard_broker(_Stale()), checkpoint, "r")


def test_livesession_s_own_venue_keeps_its_traceback():
    """A bug of livesession's own venue is not said as the desk's: its error passes."""

    class Broken(MockBroker):
        __module__ = "livesession.brokers.mock"  # as livesession's own (unguarded)

        def mark(self, symbol: str, price: Decimal) -> None:
            raise ZeroDivisionError

    own = guard_broker(Broken())
    assert isinstance(own, Broken)
    checkpoint = {"ts_sim": 0, "broker_journal_offset": 0, "book": {"last_price": {"X": "1"}}}
    with pytest.raises(ZeroDivisionError):
        venue_catch_up(own, checkpoint, "r")


_COUNTING = """\
import os

from livesession import MockBroker


class Venue(MockBroker):
    simulated = True
    positions_since = 1_767_225_600_000  # the run's start, as a venue counts it

    def count_positions_from(self, since_ms):
        if os.environ.get("DESK_SERVICE") != "up":
            raise RuntimeError("the desk's account service is down")


def make():
    return Venue()
"""


def test_a_venue_whose_count_positions_from_raises_refuses_the_resume_in_one_line(
    tmp_path: Path, monkeypatch
):
    """Bug: a desk's venue counting its positions from a start (``count_positions_from``, told
    as the session is restored) that raised ended ``livesession resume`` in a traceback, exit 1."""
    runs, line = _refused_resume(tmp_path, monkeypatch, "deskcount", _COUNTING, "c")
    assert line.startswith(
        "livesession: error: cannot resume run c: the broker's count_positions_from raised "
        "RuntimeError: the desk's account service is down (at "
    ), line
    assert "venue.py:12 in count_positions_from), telling it what the run held at its " in line
    assert line.endswith(
        "resume it again once the broker's count_positions_from works (nothing was changed: "
        "the tails it had cut back were put back)"
    )
    assert cli("status", runs / "c", cwd=tmp_path).returncode == 6  # crashed, resumable
    monkeypatch.setenv("DESK_SERVICE", "up")
    resumed = cli("resume", runs / "c", "-q", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert cli("verify", runs / "c").returncode == 0


class _Forgetful(MockBroker):
    """A desk's venue that cannot be told of an order a crashed process sent."""

    simulated = True

    def recover(self, order: object, **_told: object) -> None:
        raise ConnectionError("the desk's order service is down")


def test_a_venue_whose_recover_raises_is_named_in_one_line():
    broker = guard_broker(_Forgetful())
    with (
        pytest.raises(PluginError, match=r"^cannot resume run r: the broker's recover raised "),
        told_at_resume(broker, "r", "recover"),
    ):
        broker.recover(None)


def test_an_error_of_livesession_s_own_code_there_keeps_its_traceback():
    with (
        pytest.raises(ZeroDivisionError),
        told_at_resume(guard_broker(_Forgetful()), "r", "recover"),
    ):
        _ = 1 / 0
