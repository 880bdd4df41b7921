"""The Python API at its edges: what ``create_run``, ``resume_run`` and the orchestrator take.

A path is a ``str`` or any ``os.PathLike``. An argument of the wrong kind is refused with
one line naming it before anything is written, never found out steps later.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from livesession import (
    ConfigError,
    CsvReplayFeed,
    DryrunConfig,
    FileLease,
    FileLineSink,
    FileMetricsSink,
    ListAlertSink,
    LiveSessionOrchestrator,
    MemoryLineSink,
    MockBroker,
    PluginError,
    RunDirectoryError,
    SimClock,
    check_csv,
    create_run,
    default_checks,
    open_session,
    resume_run,
    verify_run,
)
from livesession.control import describe_run, send_control
from livesession.evidence import scan_secrets
from livesession.status import list_runs

from _helpers import crash_in_step
from crash_harness import KILLED, cli


class _PathLike:
    """An ``os.PathLike`` that is not a ``pathlib.Path`` (as some applications carry paths)."""

    def __init__(self, path: Path) -> None:
        self._path = str(path)

    def __fspath__(self) -> str:
        return self._path


class TestPaths:
    def test_create_run_takes_a_str_and_any_path_like(self, tmp_path: Path) -> None:
        """Bug: ``create_run(cfg, "/tmp/x")`` died of ``'str' / 'str'`` (and ``resume_run``
        of a str of ``'str' object has no attribute 'exists'``, below)."""
        session = create_run(DryrunConfig(run_id="as-str", steps=5), str(tmp_path / "runs"))
        session.run_to_end(5)
        session.close()
        session = create_run(
            DryrunConfig(run_id="as-pathlike", steps=5), _PathLike(tmp_path / "runs")
        )
        session.run_to_end(5)
        session.close()
        for name in ("as-str", "as-pathlike"):
            assert verify_run(str(tmp_path / "runs" / name)).ok

    def test_resume_run_takes_a_str(self, tmp_path: Path) -> None:
        proc = cli(
            "dryrun", "--out", tmp_path, "--run-id", "crashed", "-q", crash_at="checkpoint:3"
        )
        assert proc.returncode == KILLED, proc.stderr
        resumed = resume_run(str(tmp_path / "crashed"))
        resumed.run_to_end(resumed.config.steps)
        resumed.close()
        assert verify_run(_PathLike(tmp_path / "crashed")).ok

    def test_open_session_takes_path_likes(self, tmp_path: Path) -> None:
        async def main() -> None:
            config = DryrunConfig(run_id="aio-pathlike", steps=5)
            async with open_session(config, out_dir=_PathLike(tmp_path)) as session:
                await session.run_steps(5)
                assert session.run_dir == tmp_path / "aio-pathlike"

        asyncio.run(main())
        assert verify_run(tmp_path / "aio-pathlike").ok

    def test_the_exported_file_classes_take_a_str(self, tmp_path: Path) -> None:
        """Bug: ``FileLineSink("events.jsonl")`` and ``CsvReplayFeed("bars.csv", ...)`` died
        of ``'str' object has no attribute 'open'``."""
        sink = FileLineSink(str(tmp_path / "events.jsonl"))
        sink.write_line(b"{}\n")
        sink.close()
        assert sink.path == tmp_path / "events.jsonl"
        assert (tmp_path / "events.jsonl").read_bytes() == b"{}\n"
        metrics = FileMetricsSink(_PathLike(tmp_path / "metrics.json"))
        metrics.replace(b"{}")
        assert (tmp_path / "metrics.json").read_bytes() == b"{}"
        bars = tmp_path / "bars.csv"
        bars.write_text("open,high,low,close,volume\n1.0,1.2,0.9,1.1,5\n1.1,1.3,1.0,1.2,5\n")
        feed = CsvReplayFeed(str(bars), symbol="BARS", tick=None, lot=Decimal("0.001"))
        try:
            assert feed.next_bar(0) is not None
        finally:
            feed.close()
        assert check_csv(_PathLike(bars), tick=None).rows == 2
        FileLease(_PathLike(tmp_path / "lease.json"), "acct", "strat").close()

    def test_the_tools_functions_and_a_venue_journal_take_a_str_and_any_path_like(
        self, tmp_path: Path
    ) -> None:
        """Bug: docs/embedding.md says a path is a str or any os.PathLike wherever the API
        takes one, but ``livesession.status.list_runs("runs")`` died of ``'str' object has
        no attribute 'is_dir'``, ``livesession.control.describe_run`` and ``send_control``
        of a str of ``unsupported operand type(s) for /: 'str' and 'str'``,
        ``livesession.evidence.scan_secrets`` of ``no attribute 'rglob'``, and
        ``MockBroker(journal="venue.jsonl")`` of ``no attribute 'exists'``; a path-like
        that is no ``Path`` the same."""
        session = create_run(DryrunConfig(run_id="tools", steps=5), tmp_path / "runs")
        session.run_to_end(5)
        session.close()
        run = tmp_path / "runs" / "tools"
        assert verify_run(run).ok
        for kind in (str, _PathLike):
            assert [s.run_id for s in list_runs(kind(tmp_path / "runs"))] == ["tools"]
            assert describe_run(kind(run)) == describe_run(run)
            outcome = send_control("stop", kind(run), timeout_s=1.0)
            assert outcome == send_control("stop", run, timeout_s=1.0)
            assert outcome.kind == "nothing", outcome  # sealed: stopped already
            assert scan_secrets(kind(run), environ={}) == []
            journal = tmp_path / f"venue-{kind.__name__}.jsonl"
            MockBroker(journal=kind(journal)).close()
            assert journal.exists()


_FROM_MAPPING = "build one from its settings with DryrunConfig.from_mapping(...)"


class TestTheConfigAndThePaths:
    """Bug: ``create_run({"run_id": "d"}, out)`` and ``create_run("mydesk.toml", out)`` died
    of ``AttributeError: 'dict' object has no attribute 'run_id'`` (``open_session`` with
    ``out_dir`` likewise); ``resume_run`` and ``create_run`` of a value that is no path of
    ``TypeError: expected str, bytes or os.PathLike object``."""

    @pytest.mark.parametrize(
        ("config", "said"),
        [
            ({"run_id": "d", "steps": 5}, f"got dict: {_FROM_MAPPING}"),
            ("mydesk.toml", "got str: read the config file with load_config('mydesk.toml')"),
            (
                Path("desk.toml"),
                f"got {type(Path()).__name__}: read the config file with load_config('desk.toml')",
            ),
            (5, "got int"),
        ],
        ids=["dict", "str", "path", "int"],
    )
    def test_a_config_that_is_not_a_dryrun_config_is_refused_before_anything(
        self, tmp_path: Path, config: object, said: str
    ) -> None:
        expected = f"^{re.escape(f'config must be a DryrunConfig, {said}')}$"
        out = tmp_path / "runs"
        with pytest.raises(ConfigError, match=expected):
            create_run(config, out)
        with pytest.raises(ConfigError, match=expected):
            LiveSessionOrchestrator(config)

        async def main() -> None:
            async with open_session(config, out_dir=out):
                pytest.fail("no session is built on such a config")

        with pytest.raises(ConfigError, match=expected):
            asyncio.run(main())
        assert _tree(tmp_path) == {}
        assert not out.exists()

    def test_a_run_directory_that_is_no_path_is_refused_before_anything(
        self, tmp_path: Path
    ) -> None:
        config = DryrunConfig(run_id="p", steps=5)
        with pytest.raises(ConfigError, match=r"^out_dir must be a path \(a str or an os\.Path"):
            create_run(config, 5)
        with pytest.raises(
            ConfigError,
            match=r"^run_dir must be a path \(a str or an os\.PathLike\), got DryrunConfig$",
        ):
            resume_run(config)
        assert _tree(tmp_path) == {}


class TestFileLineSinkPaths:
    """Bug: ``FileLineSink("exists.jsonl")``, a directory or a path under a file raised a
    raw ``FileExistsError`` / ``NotADirectoryError``; now a ``RunDirectoryError`` naming the
    path and what to do, with nothing changed."""

    _KEPT = b'{"kept":true}\n'

    @pytest.mark.parametrize(
        ("path", "append", "said"),
        [
            (
                "exists.jsonl",
                False,
                (
                    "{d}/exists.jsonl already exists, and a sink never overwrites a file: give a "
                    "path that does not exist yet, or pass append=True to add lines to it"
                ),
            ),
            (".", False, "{d} is a directory, not a file: give the path of a file to create in"),
            (".", True, "{d} is a directory, not a file: give the path of a file to create in"),
            (
                "exists.jsonl/x.jsonl",
                False,
                "{d}/exists.jsonl is a file, not a directory: {d}/exists.jsonl/x.jsonl cannot",
            ),
            ("nowhere/x.jsonl", True, "the directory {d}/nowhere does not exist: create it first"),
        ],
        ids=["existing-file", "directory", "directory-append", "under-a-file", "no-directory"],
    )
    def test_a_path_that_cannot_be_its_file_is_refused_naming_it(
        self, tmp_path: Path, path: str, append: bool, said: str
    ) -> None:
        (tmp_path / "exists.jsonl").write_bytes(self._KEPT)
        before = _tree(tmp_path)
        target = tmp_path / path
        with pytest.raises(RunDirectoryError) as info:
            FileLineSink(target, append=append)
        message = str(info.value)
        assert message.startswith(f"FileLineSink({str(target)!r}): {said.format(d=tmp_path)}")
        assert "\n" not in message
        assert _tree(tmp_path) == before
        assert not (tmp_path / "nowhere").exists()

    def test_append_adds_to_an_existing_file(self, tmp_path: Path) -> None:
        """What the refusal of an existing file points to."""
        (tmp_path / "exists.jsonl").write_bytes(self._KEPT)
        sink = FileLineSink(tmp_path / "exists.jsonl", append=True)
        sink.write_line(b"{}\n")
        sink.close()
        assert (tmp_path / "exists.jsonl").read_bytes() == self._KEPT + b"{}\n"


def _tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes (to show that nothing changed)."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _closed(path: Path) -> object:
    """A file object that was open for writing, closed since."""
    file = path.open("a", encoding="utf-8")
    file.close()
    return file


_NOT_A_CLOCK = "clock= got an int, not a Clock: it lacks now"
_NOT_AN_ALERT_SINK = (
    "alerts= got a str, not an AlertSink: it lacks post (pass True: the configured webhook, "
    "False: none, or an AlertSink)"
)


class TestEdgesOfTheWrongKind:
    @pytest.mark.parametrize(
        ("given", "said"),
        [
            ({"clock": 5}, _NOT_A_CLOCK),
            ({"lease_clock": "now"}, "lease_clock= got a str, not a Clock: it lacks now"),
            ({"alerts": "yes"}, _NOT_AN_ALERT_SINK),
            ({"live_override": "no"}, "live_override= got a str, not a bool"),
            ({"lease": "no"}, "lease= got a str, not a bool"),
            (
                {"broker_factory": 5},
                "broker_factory= got an int, not a callable (cfg, run_dir) -> Broker",
            ),
        ],
    )
    def test_create_run_refuses_before_writing(self, tmp_path: Path, given, said) -> None:
        """Bug: ``create_run(cfg, out, clock=5)`` was accepted; the run then died of ``'int'
        object has no attribute 'now'``, its directory half-written; ``alerts="yes"`` was
        accepted and posted nothing."""
        with pytest.raises(PluginError, match=f"^{re.escape(said)}$"):
            create_run(DryrunConfig(run_id="wrong", steps=5), tmp_path / "runs", **given)
        assert not (tmp_path / "runs").exists()

    @pytest.mark.parametrize(
        ("given", "said"),
        [
            ({"clock": 5}, _NOT_A_CLOCK),
            ({"alerts": "yes"}, _NOT_AN_ALERT_SINK),
            ({"broker_factory": "mock"}, "broker_factory= got a str, not a callable"),
        ],
    )
    def test_resume_run_refuses_and_changes_nothing(self, tmp_path: Path, given, said) -> None:
        proc = cli(
            "dryrun", "--out", tmp_path, "--run-id", "crashed", "-q", crash_at="checkpoint:3"
        )
        assert proc.returncode == KILLED, proc.stderr
        run_dir = tmp_path / "crashed"
        before = _tree(run_dir)
        with pytest.raises(PluginError, match=f"^{re.escape(said)}"):
            resume_run(run_dir, **given)
        assert _tree(run_dir) == before
        resumed = resume_run(run_dir)  # the run is as it was: it resumes
        resumed.run_to_end(resumed.config.steps)
        resumed.close()

    @pytest.mark.parametrize(
        ("given", "said"),
        [
            ({"clock": 5}, _NOT_A_CLOCK),
            ({"alerts": "yes"}, "alerts= got a str, not an AlertSink: it lacks post"),
            ({"idempotency": {}}, "idempotency= got a dict, not an IdempotencyStore: it lacks"),
            ({"checkpoints": "ckpt.json"}, "checkpoints= got a str, not a CheckpointStore"),
            ({"lease": object()}, "lease= got an object, not a SessionLease: it lacks acquire"),
            ({"retry_policy": 3}, "retry_policy= got an int, not a RetryPolicy"),
            ({"live_override": 1}, "live_override= got an int, not a bool"),
            ({"lease_holder": 7}, "lease_holder= got an int, not a str"),
            ({"rails": 5}, "rails= got an int, not a sequence of Rail"),
            ({"checks": [default_checks()[0], "x"]}, "checks= item 2 is a str, not a Check"),
            ({"broker": "mock"}, "broker= got a str, not a Broker: it lacks cancel"),
            ({"feed": 3}, "feed= got an int, not a MarketFeed"),
            ({"strategy": 3}, "strategy= got an int, not a Strategy: it lacks get_state"),
        ],
    )
    def test_the_orchestrator_refuses_when_built(self, given, said) -> None:
        """Bug: ``LiveSessionOrchestrator(cfg, clock=5)`` was built and died at the first
        step; a store, lease or alert sink of the wrong kind likewise, or never."""
        with pytest.raises(PluginError, match=f"^{re.escape(said)}"):
            LiveSessionOrchestrator(DryrunConfig(run_id="bare", steps=5), **given)

    _TAKES = "lease_clock, alerts, strategy, feed, broker"
    _EDGE = "an edge of LiveSessionOrchestrator, which a run directory sets up itself"

    @pytest.mark.parametrize(
        ("given", "said"),
        [
            ({"event_sink": object()}, f"['event_sink'] (event_sink: {_EDGE})"),
            ({"idempotency": {}}, f"['idempotency'] (idempotency: {_EDGE})"),
            ({"strategy_factory": "desk:make"}, "['strategy_factory']"),
        ],
    )
    def test_a_keyword_create_run_and_resume_run_do_not_take_is_refused_in_their_name(
        self, tmp_path: Path, given, said
    ) -> None:
        """Bug: ``create_run(cfg, out, event_sink=...)`` said ``TypeError
        apply_references() got an unexpected keyword argument 'event_sink'``, blaming a
        private function. The refusal names the call made and the keywords it takes."""
        with pytest.raises(TypeError) as info:
            create_run(DryrunConfig(run_id="wrong", steps=5), tmp_path / "runs", **given)
        assert str(info.value) == (
            f"create_run got unexpected keyword argument(s): {said}; it takes "
            "idempotency_backend, clock, broker_factory, live_override, store, lease, "
            f"{self._TAKES}"
        )
        assert not (tmp_path / "runs").exists()
        with pytest.raises(TypeError) as info:
            resume_run(tmp_path / "runs" / "wrong", **given)
        assert str(info.value) == (
            f"resume_run got unexpected keyword argument(s): {said}; it takes clock, "
            f"broker_factory, {self._TAKES}"
        )

    def test_a_misspelled_edge_in_memory_is_refused_listing_the_edges(self) -> None:
        """Bug: ``open_session(cfg, brokr=...)`` (and ``LiveSessionOrchestrator(cfg,
        brokr=...)``) said only ``got unexpected keyword argument(s): ['brokr']``, where
        ``create_run``'s refusal lists what it takes. One message for both now."""
        takes = (
            "clock, broker, feed, strategy, event_sink, state_sink, audit_sink, metrics_sink, "
            "idempotency, checkpoints, rails, checks, retry_policy, live_override, lease, "
            "lease_clock, lease_holder, alerts"
        )
        said = (
            "LiveSessionOrchestrator got unexpected keyword argument(s): ['brokr']; "
            f"it takes {takes}"
        )

        async def main() -> None:
            async with open_session(DryrunConfig(run_id="aio-typo"), brokr=None):
                pytest.fail("a session given a keyword it does not take must not be handed out")

        with pytest.raises(TypeError, match=f"^{re.escape(said)}$"):
            asyncio.run(main())
        with pytest.raises(TypeError, match=f"^{re.escape(said)}$"):
            LiveSessionOrchestrator(DryrunConfig(run_id="typo"), brokr=None)

    def test_open_session_refuses_in_memory_too(self) -> None:
        async def main() -> None:
            async with open_session(DryrunConfig(run_id="aio-bare"), clock=5):
                pytest.fail("a session on a clock that is none must not be handed out")

        with pytest.raises(PluginError, match=f"^{re.escape(_NOT_A_CLOCK)}$"):
            asyncio.run(main())

    @pytest.mark.parametrize(
        ("edge", "opened", "said"),
        [
            (
                "audit_sink",
                lambda path: path.open(encoding="utf-8"),
                (
                    "not a sink or writable file object: TextIOWrapper '{path}' is not open for "
                    "writing (open it with mode 'w' or 'a')"
                ),
            ),
            (
                "event_sink",
                lambda path: path.open("rb"),
                (
                    "not a sink or writable file object: BufferedReader '{path}' is not open for "
                    "writing"
                ),
            ),
            (
                "metrics_sink",
                lambda path: path.open(encoding="utf-8"),
                "not a metrics sink or writable file object: TextIOWrapper '{path}' is not open",
            ),
            (
                "state_sink",
                _closed,
                "not a sink or writable file object: TextIOWrapper '{path}' is closed",
            ),
        ],
        ids=["read-only-audit", "read-only-binary", "read-only-metrics", "closed"],
    )
    def test_a_file_not_open_for_writing_is_refused_when_built(
        self, tmp_path: Path, edge: str, opened, said: str
    ) -> None:
        """Bug: ``audit_sink=open("ok.csv")`` (read-only) was taken as a sink; preflight then
        failed ``SINK_WRITE_FAILED`` (``not writable``). docs/embedding.md says it is a
        ``TypeError`` when the session is built."""
        path = tmp_path / "ok.csv"
        path.write_text("kept\n", encoding="utf-8")
        file = opened(path)
        try:
            kwargs = {"audit_sink": MemoryLineSink(), edge: file}
            with pytest.raises(TypeError, match=f"^{re.escape(said.format(path=path))}"):
                LiveSessionOrchestrator(DryrunConfig(run_id="ro", steps=5), **kwargs)
        finally:
            file.close()
        assert path.read_text(encoding="utf-8") == "kept\n"

    def test_files_open_for_writing_are_sinks(self, tmp_path: Path) -> None:
        with (
            (tmp_path / "events.jsonl").open("w", encoding="utf-8") as events,
            (tmp_path / "state_snapshots.jsonl").open("a", encoding="utf-8") as states,
            (tmp_path / "audit.jsonl").open("ab") as audit,
            (tmp_path / "metrics.json").open("w+b") as metrics,
        ):
            session = LiveSessionOrchestrator(
                DryrunConfig(run_id="rw", steps=5),
                event_sink=events,
                state_sink=states,
                audit_sink=audit,
                metrics_sink=metrics,
            )
            assert session.run_to_end(5).status.value == "COMPLETED"
        assert verify_run(tmp_path).ok  # the four files, written through the file objects

    def test_edges_of_the_right_kind_still_run(self, tmp_path: Path) -> None:
        alerts = ListAlertSink()
        session = create_run(
            DryrunConfig(run_id="right", steps=5),
            tmp_path,
            clock=SimClock(DryrunConfig().start),
            alerts=alerts,
            live_override=False,
        )
        session.run_to_end(5)
        session.close()
        assert alerts.codes()[-1] == "RUN_SEALED"

    @pytest.mark.parametrize(
        ("edge", "given", "said"),
        [
            (
                "metrics_sink",
                Path("metrics.json"),
                (
                    "metrics_sink= got a PosixPath, not a metrics sink or writable file object: "
                    "for a file at that path give metrics_sink=FileMetricsSink(path)"
                ),
            ),
            (
                "event_sink",
                "events.jsonl",
                (
                    "event_sink= got a str, not a sink or writable file object: "
                    "for a file at that path give event_sink=FileLineSink(path)"
                ),
            ),
            ("state_sink", 5, "state_sink= got an int, not a sink or writable file object"),
        ],
        ids=["path-metrics", "str-events", "int-states"],
    )
    def test_a_path_or_other_value_given_as_a_sink_is_refused_naming_the_edge(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edge: str, given, said: str
    ) -> None:
        """Bug: ``metrics_sink=Path("metrics.json")`` was taken as a sink (a ``Path``'s
        ``replace`` looks like a metrics sink's): the session traded, then failed at its
        seal, ``SINK_WRITE_FAILED`` ``FileNotFoundError: 'metrics.json' -> b'{...}'`` (an
        existing file would have been renamed to the document). And a path given for a
        line sink was refused as ``not a sink or writable file object: str``, naming no
        edge. Each is a ``TypeError`` when the session is built, naming the edge and what
        writes a file at a path."""
        monkeypatch.chdir(tmp_path)
        kwargs = {"audit_sink": MemoryLineSink(), edge: given}
        with pytest.raises(TypeError, match=f"^{re.escape(said)}$"):
            LiveSessionOrchestrator(DryrunConfig(run_id="paths", steps=5), **kwargs)
        assert list(tmp_path.iterdir()) == []


class _Desk:
    """A strategy supplied in-process; ``interrupt_at``: Ctrl-C inside that bar's step."""

    strategy_id = "sma_demo"

    def __init__(self, interrupt_at: int = 0) -> None:
        self.bars = 0
        self.interrupt_at = interrupt_at

    def on_bar(self, bar: object, view: object) -> list[object]:
        self.bars += 1
        if self.bars == self.interrupt_at:
            raise KeyboardInterrupt
        return []

    def get_state(self) -> dict[str, int]:
        return {"bars": self.bars}

    def set_state(self, state: dict[str, int]) -> None:
        self.bars = state["bars"]


def _crashed(out: Path, run_id: str, *, desk: bool) -> Path:
    """A run torn by an interrupt in its 12th step and closed: a crash at a checkpoint."""
    cfg = DryrunConfig(run_id=run_id, steps=50, checkpoint_every=5)
    session = create_run(cfg, out, **({"strategy": _Desk(12)} if desk else {}))
    crash_in_step(session, 12, 50)  # the desk's strategy raises first, in the same step
    return out / run_id


class TestAnExistingRunDirectory:
    """``create_run`` of a run id whose directory exists: advice a Python caller can take."""

    def _refusal(self, out: Path, run_id: str, **given: object) -> str:
        before = _tree(out)
        with pytest.raises(RunDirectoryError) as info:
            create_run(DryrunConfig(run_id=run_id, steps=50), out, **given)
        assert _tree(out) == before  # nothing changed
        return str(info.value)

    def test_a_crashed_run_is_pointed_at_resume_run_with_its_objects_again(
        self, tmp_path: Path
    ) -> None:
        """Bug: it said ``choose another --run-id, or continue a crashed run with
        `livesession resume DIR``: CLI advice to a Python caller, and for a run started
        with a strategy object the CLI cannot resume it at all (exit 2). Then it named the
        call and still ended ", passing the objects it was started with again", which the
        call already names: it says the call once now, as ``status`` and ``verify`` do."""
        run_dir = _crashed(tmp_path, "desk", desk=True)
        assert self._refusal(tmp_path, "desk", strategy=_Desk()) == (
            f"run directory {run_dir} already exists: choose another run_id, or continue the "
            f"crashed run from Python: resume_run({str(run_dir)!r}, strategy=<a "
            f"{__name__}._Desk>) (it was started with objects, which the command line cannot "
            "rebuild)"
        )
        resumed = resume_run(run_dir, strategy=_Desk())  # the advice works
        resumed.run_to_end(50)
        resumed.close()
        assert verify_run(run_dir).ok

    def test_a_crashed_run_on_the_built_in_pieces_is_pointed_at_resume_run(
        self, tmp_path: Path
    ) -> None:
        run_dir = _crashed(tmp_path, "plain", desk=False)
        assert self._refusal(tmp_path, "plain") == (
            f"run directory {run_dir} already exists: choose another run_id, or continue the "
            f"crashed run with resume_run({str(run_dir)!r})"
        )
        resumed = resume_run(run_dir)
        resumed.run_to_end(50)
        resumed.close()
        assert verify_run(run_dir).ok

    def test_a_finished_run_a_directory_and_a_file_say_another_run_id(self, tmp_path: Path) -> None:
        create_run(DryrunConfig(run_id="done", steps=5), tmp_path).run_to_end(5)
        assert self._refusal(tmp_path, "done") == (
            f"run directory {tmp_path / 'done'} already exists and holds a finished run: "
            "choose another run_id"
        )
        (tmp_path / "notes").mkdir()
        assert self._refusal(tmp_path, "notes") == (
            f"run directory {tmp_path / 'notes'} already exists but holds no run (no "
            "run.json): choose another run_id, or remove the directory"
        )
        (tmp_path / "afile").write_text("mine\n")
        assert self._refusal(tmp_path, "afile") == (
            f"run directory {tmp_path / 'afile'} already exists and is not a run directory "
            "(it is a file): choose another run_id, or remove it"
        )


class _HostClock:
    """A host's clock: ``good`` aware readings, then ``bad`` (returned, or raised)."""

    def __init__(self, bad: object, *, good: int = 0) -> None:
        self.bad = bad
        self.good = good
        self.calls = 0

    def now(self) -> dt.datetime:
        self.calls += 1
        if self.calls <= self.good:
            return dt.datetime(2026, 1, 1, 9, 0, self.calls % 60, tzinfo=dt.UTC)
        if isinstance(self.bad, Exception):
            raise self.bad
        return self.bad  # type: ignore[return-value]


_NAIVE = dt.datetime(2026, 1, 1, 9, 0, 0)  # noqa: DTZ001 - the host clock's mistake
_MUST = "a clock must return a timezone-aware UTC datetime (tzinfo=datetime.UTC)"
_BAD_READINGS = [
    pytest.param(
        _NAIVE,
        f"the clock's now() returned a naive datetime (2026-01-01T09:00:00): {_MUST}",
        id="naive",
    ),
    pytest.param(
        "2026-01-01T09:00:00Z",
        f"the clock's now() returned a str ('2026-01-01T09:00:00Z'): {_MUST}",
        id="str",
    ),
    pytest.param(
        RuntimeError("ntp via postgresql://ops:Hunter2Secret@10.0.0.5/ntp is down"),
        "the clock's now() raised RuntimeError: ntp via postgresql://ops:***@10.0.0.5/ntp is down",
        id="raises",
    ),
]


def _records(run_dir: Path, name: str) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in (run_dir / name).read_bytes().splitlines()]


class TestClockReadings:
    """Bug: a host clock returning a naive datetime (or a str) made run_to_end raise a bare
    ValueError (AttributeError) in INIT, and close() raise it again, leaving a run
    directory of empty files that failed verify."""

    @pytest.mark.parametrize(("bad", "said"), _BAD_READINGS)
    def test_a_clock_that_gives_no_time_at_the_start_rejects_the_run(
        self, tmp_path: Path, bad: object, said: str
    ) -> None:
        session = create_run(
            DryrunConfig(run_id="clock", steps=20, clock_mode="system"),
            tmp_path,
            clock=_HostClock(bad),
            alerts=False,
        )
        result = session.run_to_end(20)
        session.close()  # never raises for it
        assert (result.status.value, result.reason, result.detail) == (
            "REJECTED",
            "CLOCK_INVALID",
            said,
        )
        run_dir = tmp_path / "clock"
        assert verify_run(run_dir).ok
        (check,) = [
            e["payload"]
            for e in _records(run_dir, "events.jsonl")
            if e["event_type"] == "PREFLIGHT_CHECK"
        ]
        assert check == {
            "check": "clock_valid",
            "passed": False,
            "reason": "CLOCK_INVALID",
            "detail": said,
        }
        # No reading to stamp the records with: they carry the session's start time.
        stamps = {e["ts_utc"] for e in _records(run_dir, "events.jsonl")}
        assert stamps == {DryrunConfig().start_time}
        assert "Hunter2Secret" not in "".join(
            path.read_text() for path in run_dir.iterdir() if path.suffix in (".jsonl", ".json")
        )

    def test_closed_before_preflight_on_such_a_clock_is_rejected_and_verifies(
        self, tmp_path: Path
    ) -> None:
        session = create_run(
            DryrunConfig(run_id="closed", steps=20, clock_mode="system"),
            tmp_path,
            clock=_HostClock(_NAIVE),
            alerts=False,
        )
        session.close()
        result = session.result()
        assert (result.status.value, result.reason) == (
            "REJECTED",
            "CLOSED_BEFORE_PREFLIGHT,CLOCK_INVALID",
        )
        assert result.detail == (
            "the session was closed before its preflight ran; the clock's now() returned a "
            f"naive datetime (2026-01-01T09:00:00): {_MUST}"
        )
        assert verify_run(tmp_path / "closed").ok

    @pytest.mark.parametrize(("bad", "said"), _BAD_READINGS[:2])
    def test_a_clock_that_turns_bad_mid_run_fails_it(
        self, tmp_path: Path, bad: object, said: str
    ) -> None:
        session = create_run(
            DryrunConfig(run_id="mid", steps=20, clock_mode="system"),
            tmp_path,
            clock=_HostClock(bad, good=10),
            alerts=False,
        )
        result = session.run_to_end(20)
        session.close()
        assert (result.status.value, result.reason, result.detail) == (
            "FAILED",
            "UNEXPECTED_ERROR",
            f"ValueError: {said}",
        )
        assert verify_run(tmp_path / "mid").ok
