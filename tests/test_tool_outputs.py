"""Where the post-run tools (report, prom, evidence) write, and what their output holds."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import stat
import subprocess
import sys
import types
from pathlib import Path

import orjson
import pytest

from livesession.cli import main
from livesession.verify import verify_run


def _files(root: Path) -> dict[str, str]:
    """Every file under ``root`` (symlinks as links), with the SHA-256 of its bytes."""
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            found[str(path.relative_to(root))] = f"-> {path.readlink()}"
        elif path.is_file():
            found[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@pytest.fixture(name="sealed", scope="module")
def _sealed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sealed")
    assert main(["dryrun", "--out", str(out), "--run-id", "done", "--steps", "60", "-q"]) == 0
    return out / "done"


@pytest.fixture(name="run")
def _run(sealed: Path, tmp_path: Path) -> Path:
    run = tmp_path / "runs" / "done"
    shutil.copytree(sealed, run)
    return run


_OWN = {"report": "report.html", "prom": "livesession.prom"}


class TestNeverOverARun:
    """``report --output RUN/events.jsonl`` replaced the events it had read (verify then
    found 332 violations), ``prom --output RUN/audit.jsonl`` the audit log: both exited 0.
    An output that leads into a run directory is refused unless it is the tool's own file."""

    @pytest.mark.parametrize("command", sorted(_OWN))
    @pytest.mark.parametrize(
        ("given", "lands"),
        [
            ("{run}/events.jsonl", "{run}/events.jsonl"),
            ("{run}/audit.jsonl", "{run}/audit.jsonl"),
            ("{run}/checkpoint.json", "{run}/checkpoint.json"),
            ("{run}/writer.lock", "{run}/writer.lock"),
            ("{run}/../done/config.json", "{run}/config.json"),
            ("{tmp}/alias/run.json", "{run}/run.json"),  # a symlink to the run directory
            ("{tmp}/link.out", "{run}/metrics.json"),  # a symlink to one of its files
            ("{run}/EVENTS.JSONL", "{run}/EVENTS.JSONL"),  # the same file where case folds
            ("{run}/other.html", "{run}/other.html"),  # a name the run may write later
            ("{tmp}/runs/other/events.jsonl", "{tmp}/runs/other/events.jsonl"),  # another run
        ],
    )
    def test_refused_in_one_line_and_nothing_changes(
        self,
        run: Path,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        *,
        command: str,
        given: str,
        lands: str,
    ) -> None:
        shutil.copytree(run, tmp_path / "runs" / "other")
        (tmp_path / "alias").symlink_to(run)
        (tmp_path / "link.out").symlink_to(run / "metrics.json")
        before = _files(tmp_path)
        output = given.format(run=run, tmp=tmp_path)

        assert main([command, str(run), "--output", output]) == 2

        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1, err
        assert err.startswith(f"livesession: error: --output {output} is ")
        assert str(Path(lands.format(run=run.resolve(), tmp=tmp_path.resolve()))) in err
        assert f"in a run directory it writes only {_OWN[command]}" in err
        assert _files(tmp_path) == before
        assert verify_run(run).ok

    @pytest.mark.parametrize("command", sorted(_OWN))
    def test_its_own_file_and_any_place_outside_are_written(
        self, run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
    ) -> None:
        own = run / _OWN[command]
        assert main([command, str(run)]) == 0
        assert main([command, str(run), "--output", str(own)]) == 0  # again, over itself
        assert main([command, str(run), "--output", str(tmp_path / "elsewhere.out")]) == 0
        capsys.readouterr()
        assert own.is_file()
        assert (tmp_path / "elsewhere.out").is_file()
        assert verify_run(run).ok


_ROOT = getattr(os, "geteuid", lambda: -1)() == 0


class TestOutputToADeviceOrAFifo:
    """``report RUN --output /dev/null`` and ``prom RUN --output /dev/null`` replaced the
    device with a regular file (the atomic write renamed its temporary file over it): as
    root, /dev/null was gone for the whole machine. They now write into it, as ``>`` does."""

    @pytest.mark.skipif(not _ROOT, reason="mknod of a device needs root")
    @pytest.mark.parametrize("command", sorted(_OWN))
    def test_a_character_device_stays_one(
        self, run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
    ) -> None:
        null = tmp_path / "dev"
        os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # a second /dev/null

        assert main([command, str(run), "--output", str(null)]) == 0

        assert stat.S_ISCHR(os.lstat(null).st_mode)
        assert os.lstat(null).st_rdev == os.makedev(1, 3)
        assert str(null) in capsys.readouterr().out
        assert sorted(p.name for p in tmp_path.iterdir()) == ["dev", "runs"]

    @pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
    def test_a_fifo_gets_the_text_and_stays_a_fifo(self, run: Path, tmp_path: Path) -> None:
        fifo = tmp_path / "metrics.prom"
        os.mkfifo(fifo)
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # the collector, reading
        try:
            assert main(["prom", str(run), "--output", str(fifo)]) == 0
            text = os.read(reader, 1 << 16)
        finally:
            os.close(reader)
        assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
        assert main(["prom", str(run), "--output", str(tmp_path / "file.prom")]) == 0
        assert text == (tmp_path / "file.prom").read_bytes()  # the whole text, as to a file


class TestOutputThroughASymlink:
    """``report RUN --output /dev/stdout`` (and ``prom``) replaced the /dev/stdout symlink
    with a regular file holding the output (the atomic write renamed its temporary file over
    the link): as root, for every process on the machine. A symlink given as ``--output`` is
    followed now and stays; a symlink inside a run directory is never written through. No
    test names /dev/stdout: a link in tmp_path to ``/proc/self/fd/1`` stands for it."""

    @pytest.mark.skipif(not hasattr(os, "symlink"), reason="POSIX symlinks")
    @pytest.mark.parametrize("command", sorted(_OWN))
    def test_a_symlink_to_a_file_stays_and_the_file_gets_the_text(
        self, run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
    ) -> None:
        (tmp_path / "kept").mkdir()
        real = tmp_path / "kept" / "real.out"
        real.write_bytes(b"old\n")
        link = tmp_path / "link.out"
        link.symlink_to(Path("kept") / "real.out")

        assert main([command, str(run), "--output", str(link)]) == 0

        label = "report" if command == "report" else "textfile"
        assert capsys.readouterr().out == f"{label:<10}{link}\n"  # the path given, as typed
        assert link.is_symlink()
        assert link.readlink() == Path("kept") / "real.out"
        assert real.read_bytes().startswith(b"<!DOCTYPE" if command == "report" else b"# HELP")
        assert sorted(p.name for p in real.parent.iterdir()) == ["real.out"]
        if command == "prom":  # the same text as to a plain file
            assert main([command, str(run), "--output", str(tmp_path / "plain.out")]) == 0
            assert real.read_bytes() == (tmp_path / "plain.out").read_bytes()

    @pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
    def test_a_symlink_to_a_fifo_is_written_through(self, run: Path, tmp_path: Path) -> None:
        fifo = tmp_path / "collector"
        os.mkfifo(fifo)
        link = tmp_path / "metrics.prom"
        link.symlink_to(fifo)
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # the collector, reading
        try:
            assert main(["prom", str(run), "--output", str(link)]) == 0
            text = os.read(reader, 1 << 16)
        finally:
            os.close(reader)
        assert link.is_symlink()
        assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
        assert main(["prom", str(run), "--output", str(tmp_path / "file.prom")]) == 0
        assert text == (tmp_path / "file.prom").read_bytes()

    @pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="/proc/self/fd")
    @pytest.mark.parametrize("command", sorted(_OWN))
    def test_a_link_to_its_own_stdout_writes_the_file_alone_on_stdout(
        self, run: Path, tmp_path: Path, command: str
    ) -> None:
        """What ``--output /dev/stdout | promtool check metrics`` needs: stdout holds the
        file and nothing else; the line that names the output goes to stderr."""
        link = tmp_path / "stdout"
        link.symlink_to("/proc/self/fd/1")  # the child's own stdout, as /dev/stdout is

        done = subprocess.run(
            [sys.executable, "-m", "livesession.cli", command, str(run), "--output", str(link)],
            capture_output=True,
            check=False,
            timeout=120,
        )

        assert done.returncode == 0, done.stderr
        assert link.is_symlink()
        assert link.readlink() == Path("/proc/self/fd/1")
        label = "report" if command == "report" else "textfile"
        assert done.stderr.decode() == f"{label:<10}{link}\n"
        if command == "prom":
            assert main(["prom", str(run), "--output", str(tmp_path / "file.prom")]) == 0
            assert done.stdout == (tmp_path / "file.prom").read_bytes()
        else:
            assert done.stdout.startswith(b"<!DOCTYPE html>")
            assert done.stdout.rstrip().endswith(b"</html>")

    @pytest.mark.skipif(not hasattr(os, "symlink"), reason="POSIX symlinks")
    @pytest.mark.parametrize("command", sorted(_OWN))
    @pytest.mark.parametrize("given", [False, True])
    def test_a_symlink_in_the_run_directory_is_refused(
        self,
        run: Path,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        command: str,
        *,
        given: bool,
    ) -> None:
        """Whoever can write a run could aim its report.html at any file (``/etc/passwd``,
        for the root a report runs as): a link there is refused, never followed."""
        victim = tmp_path / "victim"
        victim.write_text("mine\n", encoding="utf-8")
        own = run / _OWN[command]
        own.symlink_to(victim)
        before = _files(tmp_path)

        argv = [command, str(run), *(["--output", str(own)] if given else [])]
        assert main(argv) == 2

        assert capsys.readouterr().err == (
            f"livesession: error: {own} is a symbolic link in the run directory "
            f"{run.resolve()}: {command} never writes through a link there; remove the link, "
            "or write it elsewhere with --output PATH\n"
        )
        assert _files(tmp_path) == before
        own.unlink()
        assert verify_run(run).ok

    @pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
    @pytest.mark.parametrize("command", sorted(_OWN))
    def test_a_fifo_in_the_run_directory_is_refused(
        self, run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
    ) -> None:
        """A FIFO named report.html (or livesession.prom) in the run directory held the
        command for ever, writing into it until a reader came: refused, as a link there is."""
        own = run / _OWN[command]
        os.mkfifo(own)
        before = _files(tmp_path)
        # A reader with room for the whole output, so that a command writing into the FIFO
        # ends (and fails the test) rather than waiting for ever for one.
        reader = os.open(own, os.O_RDONLY | os.O_NONBLOCK)
        with contextlib.suppress(OSError):  # F_SETPIPE_SZ: Linux; 64 KiB elsewhere
            fcntl.fcntl(reader, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
        try:
            assert main([command, str(run)]) == 2
        finally:
            os.close(reader)

        assert capsys.readouterr().err == (
            f"livesession: error: {own} is not a regular file (a FIFO) in the run directory "
            f"{run.resolve()}: {command} writes only a regular file there, so someone else put "
            "it there; remove it, or write it elsewhere with --output PATH\n"
        )
        assert _files(tmp_path) == before
        own.unlink()
        assert verify_run(run).ok


@pytest.fixture(name="odd")
def _odd(sealed: Path, tmp_path: Path) -> Path:
    """A copy of the run under a directory whose name has a byte that is not UTF-8."""
    root = tmp_path / os.fsdecode(b"bad\xffname")
    try:
        root.mkdir()
    except OSError as exc:  # a file system that takes UTF-8 names only (APFS)
        pytest.skip(f"this file system refuses the name: {exc}")
    shutil.copytree(sealed, root / "done")
    return root


_SAID = "bad\\xffname"
"""How JSON says the directory's name: the byte in backslash form (``_support.text``)."""


class TestPathsThatAreNotUtf8:
    """``verify --json``, ``status --json``, ``list --json`` and ``dryrun --json`` ended in a
    traceback for a path with a byte that is not UTF-8 (``TypeError: str is not valid UTF-8:
    surrogates not allowed``), and ``evidence`` did its whole work, then wrote no bundle.
    Such a byte is said as ``\\xff`` in every JSON document, and in the error line."""

    @pytest.mark.parametrize(
        ("argv", "code", "field"),
        [
            (["verify", "--json", "{run}"], 0, "run_dir"),
            (["status", "--json", "{run}"], 0, "run_dir"),
            (["list", "--json", "{root}"], 0, "out_dir"),
            (["verify", "--json", "{root}/gone"], 2, "error"),
            (["dryrun", "--json", "--out", "{root}", "--steps", "5", "-q"], 0, "run_dir"),
        ],
    )
    def test_one_json_object_saying_the_byte(
        self,
        odd: Path,
        capsys: pytest.CaptureFixture[str],
        argv: list[str],
        code: int,
        field: str,
    ) -> None:
        args = [arg.format(run=odd / "done", root=odd) for arg in argv]

        assert main(args) == code

        captured = capsys.readouterr()
        said = orjson.loads(captured.out)
        assert _SAID in said[field]
        assert said.get("exit_code", 0) == code  # list --json has none: it exits 0
        if code:
            assert captured.err == f"livesession: error: {said['error']}\n"

    def test_evidence_writes_its_bundle(
        self, odd: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        # The manifest names the run directory by its own name (not the path typed): a run
        # whose own name has the byte, so that the manifest has it to say.
        run = odd / os.fsdecode(b"done\xff")
        (odd / "done").rename(run)
        out = odd / "evidence"

        assert main(["evidence", str(run), "--out", str(out), "--json"]) == 0

        said = orjson.loads(capsys.readouterr().out)
        assert _SAID in said["manifest"]
        manifest = orjson.loads((out / "manifest.json").read_bytes())
        assert manifest["ok"], manifest["problems"]
        assert manifest["burnin"]["run_dir"] == "done\\xff"
        assert [p.name for p in out.glob("EV-*.md")] == [Path(said["document"]).name]


_INTERRUPTED = {"ok": False, "exit_code": 130, "error": "interrupted"}
_TERMINATED = {"ok": False, "exit_code": 143, "error": "terminated"}


class TestJsonWhenASignalEndsIt:
    """``verify --json`` and ``evidence --json`` ended by SIGINT or SIGTERM printed nothing
    on stdout (130, ``livesession: interrupted`` on stderr), though --json promises exactly
    one JSON object, an error too."""

    def test_verify_interrupted(
        self, run: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def interrupted(*_args: object, **_kwargs: object) -> None:
            raise KeyboardInterrupt

        monkeypatch.setattr("livesession.verify.verify_run", interrupted)

        assert main(["verify", str(run), "--json"]) == 130

        captured = capsys.readouterr()
        assert captured.err == "livesession: interrupted\n"
        assert [orjson.loads(line) for line in captured.out.splitlines()] == [_INTERRUPTED]

    def test_evidence_terminated(
        self, run: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def terminated(*_args: object, **_kwargs: object) -> None:
            os.kill(os.getpid(), signal.SIGTERM)  # main's handler raises at the next line
            raise AssertionError("SIGTERM did not end the command")

        monkeypatch.setattr("livesession.evidence.write_evidence", terminated)

        assert main(["evidence", str(run), "--json"]) == 143

        captured = capsys.readouterr()
        assert captured.err == "livesession: terminated\n"
        assert [orjson.loads(line) for line in captured.out.splitlines()] == [_TERMINATED]

    def test_after_its_own_object_no_second_one(
        self, run: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from livesession import _cli_commands, _cli_output

        def emit_then_interrupted(obj: dict[str, object]) -> None:
            _cli_output.emit_json(obj)
            raise KeyboardInterrupt

        monkeypatch.setattr(_cli_commands, "emit_json", emit_then_interrupted)

        assert main(["verify", str(run), "--json"]) == 130

        (line,) = capsys.readouterr().out.splitlines()
        assert orjson.loads(line)["ok"] is True

    def test_while_the_cli_loads(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A Ctrl-C while ``livesession`` imports its CLI (a few tenths of a second)."""
        import livesession.__main__ as entry

        class Loading(types.ModuleType):
            def __getattr__(self, name: str) -> object:
                raise KeyboardInterrupt

        monkeypatch.setitem(sys.modules, "livesession.cli", Loading("livesession.cli"))
        monkeypatch.setattr(sys, "argv", ["livesession", "verify", "RUN", "--json"])
        before = signal.getsignal(signal.SIGTERM)

        assert entry.main() == 130

        captured = capsys.readouterr()
        assert captured.err == "livesession: interrupted\n"
        assert orjson.loads(captured.out) == _INTERRUPTED
        assert signal.getsignal(signal.SIGTERM) is before  # left as it was, for cli.main


class TestEvidenceStoppedOnTheWay:
    """``evidence --out NEWDIR`` made NEWDIR before any work: stopped on the way (Ctrl-C, a
    failure), it left NEWDIR behind, empty. It is made only when the bundle is written."""

    def test_an_interrupt_leaves_no_directory(
        self,
        run: Path,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        def interrupted(*_args: object, **_kwargs: object) -> None:
            raise KeyboardInterrupt

        monkeypatch.setattr("livesession.evidence.verify_run", interrupted)
        new = tmp_path / "new" / "evidence"

        assert main(["evidence", str(run), "--out", str(new)]) == 130

        assert capsys.readouterr().err == "livesession: interrupted\n"
        assert not (tmp_path / "new").exists()

    def test_a_file_in_the_way_is_refused_before_the_work(
        self,
        run: Path,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        def never(*_args: object, **_kwargs: object) -> None:
            raise AssertionError("the work started before the output was known to be possible")

        monkeypatch.setattr("livesession.evidence.verify_run", never)
        (tmp_path / "afile").write_text("mine\n")
        target = tmp_path / "afile" / "evidence"

        assert main(["evidence", str(run), "--out", str(target)]) == 2

        err = capsys.readouterr().err
        assert err == (
            f"livesession: error: cannot write the evidence bundle (manifest.json, EV-*.md) to "
            f"{target} (Not a directory): write it elsewhere with --out DIR\n"
        )


@pytest.mark.broken_run("its state_snapshots.jsonl is removed on purpose")
def test_a_missing_file_of_the_run_is_said_before_any_re_run(
    run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With state_snapshots.jsonl gone, the evidence started its re-run anyway, which died
    on the file: "Status: ERROR ... the re-run process exited with code 1:
    FileNotFoundError: ...", where RUNBOOK sends the reader to look for memory or a killed
    process. The run's missing file is said, and no re-run is started."""
    from livesession.evidence import _rerun, write_evidence

    monkeypatch.setattr(_rerun, "MODULE", "livesession.no_such_worker")  # if one were started
    (run / "state_snapshots.jsonl").unlink()

    result = write_evidence(run, out_dir=tmp_path / "evidence")

    determinism = orjson.loads(result.manifest.read_bytes())["determinism"]
    assert determinism == {
        "status": "ERROR",
        "reason": "the run's state_snapshots.jsonl is missing, so there is nothing to compare "
        "a re-run with: none was started",
        "missing": ["state_snapshots.jsonl"],
    }
    assert (
        "the determinism re-run was not started (the run's state_snapshots.jsonl missing)"
        in result.problems
    )
    assert f"Reason: {determinism['reason']}." in result.document.read_text(encoding="utf-8")
