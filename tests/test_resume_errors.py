"""`livesession resume` on bad input: exit code 2, one line on stderr, nothing changed."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest

from livesession import StoreFailure, __version__
from livesession.brokers.mock import MockBroker
from livesession.cli import main

from crash_harness import KILLED, Profile, cli, dryrun

# This module breaks runs on purpose (it leaves crashed runs and corrupts them to test resume's refusals); the verify-every-run check skips them.
pytestmark = pytest.mark.broken_run(
    "it leaves crashed runs and corrupts them to test resume's refusals"
)

REJECTING = """
[fill_model]
reject_rate = "0.4"
"""


def tree_hash(root: Path) -> str:
    """SHA-256 over every entry under ``root``: names, kinds, sizes, mtimes and contents."""
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        base = Path(dirpath)
        info = base.stat()
        digest.update(f"d {base.relative_to(root)} {info.st_mtime_ns}\n".encode())
        for name in sorted(filenames):
            path = base / name
            info = path.stat()
            digest.update(
                f"f {path.relative_to(root)} {info.st_size} {info.st_mtime_ns}\n".encode()
            )
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _contents(run_dir: Path) -> dict[str, bytes]:
    """Each file of ``run_dir``'s bytes, by name."""
    return {path.name: path.read_bytes() for path in run_dir.iterdir()}


def _refused_with_a_tail(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch, module: object, name: str, fails: object
) -> dict[str, bytes]:
    """A torn last line added to ``events.jsonl`` (a tail a resume cuts), then a resume
    refused (exit 2) with ``module``'s ``name`` replaced by ``fails``: the files before it."""
    with (run_dir / "events.jsonl").open("ab") as events:
        events.write(b'{"event_type":"BA')
    before = _contents(run_dir)
    with monkeypatch.context() as patched:
        patched.setattr(module, name, fails)
        assert main(["resume", str(run_dir), "-q"]) == 2
    return before


@pytest.fixture(name="template", scope="module")
def _template(tmp_path_factory):
    """A run killed mid-way, with several audit records below its checkpoint offset."""
    out = tmp_path_factory.mktemp("template")
    profile = Profile(name="resumable", seed=3, extra_toml=REJECTING)
    assert dryrun(profile, out, crash_at="write_events:280").returncode == KILLED
    run_dir = out / profile.name
    checkpoint = orjson.loads((run_dir / "checkpoint.json").read_bytes())
    assert checkpoint["recorder"]["audit_seq"] >= 3
    return run_dir


@pytest.fixture(name="run_dir")
def _run_dir(template, tmp_path):
    target = tmp_path / "runs" / template.name
    shutil.copytree(template, target)
    return target


def _resume_fails(path: Path, root: Path, capsys, fragment: str) -> None:
    """Resume exits 2 with one line naming the problem, and leaves ``root`` untouched."""
    before = tree_hash(root)
    assert main(["resume", str(path), "-q"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("livesession: error: ")
    assert fragment in lines[0]
    assert "Traceback" not in captured.err
    assert captured.out == ""
    assert tree_hash(root) == before


def _flip_hash_digit(line: bytes) -> bytes:
    """``line`` with the first hex digit of its prev_hash changed (same length, valid JSON)."""
    at = line.index(b'"prev_hash":"') + len(b'"prev_hash":"')
    return line[:at] + (b"1" if line[at : at + 1] == b"0" else b"0") + line[at + 1 :]


def _audit_offset(run_dir: Path) -> int:
    checkpoint = orjson.loads((run_dir / "checkpoint.json").read_bytes())
    return checkpoint["recorder"]["offsets"]["audit"]


def _edit_config(run_dir: Path, **edits: Any) -> None:
    """Change ``config.json``'s keys (a table's keys merged into it)."""
    config_path = run_dir / "config.json"
    config = orjson.loads(config_path.read_bytes())
    for key, value in edits.items():
        config[key] = config[key] | value if isinstance(value, dict) else value
    config_path.write_bytes(orjson.dumps(config, option=orjson.OPT_INDENT_2) + b"\n")


def _rehash(run_dir: Path) -> None:
    """Write ``config.json``'s hash into ``run.json``, as an operator covering an edit would."""
    config = orjson.loads((run_dir / "config.json").read_bytes())
    config.pop("sources", None)
    meta = orjson.loads((run_dir / "run.json").read_bytes())
    meta["config_hash"] = hashlib.sha256(
        orjson.dumps(config, option=orjson.OPT_SORT_KEYS)
    ).hexdigest()
    (run_dir / "run.json").write_bytes(orjson.dumps(meta, option=orjson.OPT_SORT_KEYS) + b"\n")


def _start_says_another_version(run_dir: Path, capsys) -> bytes:
    """Edit events.jsonl's SESSION_STARTED to say another version: resume refuses it.

    The refusal names the two records that disagree, and changes nothing. Returns the
    events as written, to put back.
    """
    events = run_dir / "events.jsonl"
    written = events.read_bytes()
    first, _, rest = written.partition(b"\n")
    said = f'"version":"{__version__}"'.encode()
    assert said in first
    edited = first.replace(said, b'"version":"' + b"7" * len(__version__) + b'"')
    events.write_bytes(edited + b"\n" + rest)
    _resume_fails(
        run_dir,
        run_dir.parent,
        capsys,
        f"events.jsonl's SESSION_STARTED says livesession {'7' * len(__version__)}, the "
        f"audit log's C2_DRYRUN_START livesession {__version__}: the run's files were "
        "changed after the run",
    )
    return written


class TestResumable:
    """The undamaged template resumes, so each failure below comes from its damage."""

    def test_template_resumes(self, run_dir, capsys):
        """A copy of the killed run resumes to completion with exit code 0."""
        assert main(["resume", str(run_dir), "-q"]) == 0
        assert capsys.readouterr().err == ""


class TestCheckpoint:
    """A damaged checkpoint is refused before anything is touched."""

    @pytest.mark.parametrize(
        ("content", "fragment"),
        [
            (b'{"format": "livesession-checkpoint/1", "steps": 1', "not valid JSON"),
            (b"", "not valid JSON"),
            (b'["a", "list"]\n', "does not hold a JSON object"),
            (b'{"format": "livesession-checkpoint/0"}\n', "another version"),
            (b'{"format": "livesession-checkpoint/1"}\n', "missing"),
        ],
    )
    def test_corrupt_checkpoint(self, run_dir, capsys, content, fragment):
        """A checkpoint that is not JSON, not an object, foreign or incomplete exits 2."""
        (run_dir / "checkpoint.json").write_bytes(content)
        _resume_fails(run_dir, run_dir.parent, capsys, fragment)

    def test_a_lost_checkpoint_of_a_run_that_stepped_is_refused(self, run_dir, capsys):
        """Without checkpoint.json a run used to count as killed during start-up: resume
        started it over (its 280 events cut to .torn, the venue's orders ignored, then a
        RECONCILE_MISMATCH) and status called it flat and resumable. Its events show bars,
        so the checkpoint was lost: refused, nothing changed, and status says why."""
        from livesession.status import Verdict, run_status

        (run_dir / "checkpoint.json").unlink()
        _resume_fails(run_dir, run_dir.parent, capsys, "checkpoint.json is missing, but")
        verdict = run_status(run_dir)
        assert verdict.verdict is Verdict.NEEDS_OPERATOR
        assert not verdict.resumable
        assert "events.jsonl records steps" in (verdict.resume_problem or "")

    def test_checkpoint_beyond_the_events_file(self, run_dir, capsys):
        """An events file shorter than the checkpoint's offset exits 2."""
        events = run_dir / "events.jsonl"
        with events.open("r+b") as handle:
            handle.truncate(100)
        _resume_fails(run_dir, run_dir.parent, capsys, "shorter than its checkpoint")


class TestRunDirectory:
    """A run directory that is missing or foreign is refused."""

    def test_missing_run_directory(self, tmp_path, capsys):
        """A run directory that does not exist exits 2 and is not created."""
        (tmp_path / "runs").mkdir()
        _resume_fails(tmp_path / "runs" / "nope", tmp_path, capsys, "does not exist")
        assert not (tmp_path / "runs" / "nope").exists()

    def test_not_a_directory(self, tmp_path, capsys):
        """A file given as the run directory exits 2."""
        (tmp_path / "file").write_text("x")
        _resume_fails(tmp_path / "file", tmp_path, capsys, "not a directory")

    @pytest.mark.parametrize("fmt", ["livesession-run/0", "livesession-run/3", None])
    def test_run_from_another_version(self, run_dir, capsys, fmt):
        """A run.json whose format is not this version's exits 2."""
        meta_path = run_dir / "run.json"
        meta = orjson.loads(meta_path.read_bytes())
        meta["format"] = fmt
        meta_path.write_bytes(orjson.dumps(meta) + b"\n")
        _resume_fails(run_dir, run_dir.parent, capsys, "another livesession version")

    def test_missing_run_json(self, run_dir, capsys):
        """A directory without run.json is not a run directory."""
        (run_dir / "run.json").unlink()
        _resume_fails(run_dir, run_dir.parent, capsys, "not a livesession run directory")

    def test_edited_config(self, run_dir, capsys):
        """A config.json that no longer matches the run's config hash exits 2.

        Bug: RUNBOOK "After a crash" gives the line for an edited config.json (``cannot
        resume DIR (nothing was changed): DIR/config.json was changed after the run began
        (KEYS ...): ...; put config.json back as it was ...``), and ``status``'s
        ``resumable no:`` with it; only an edit whose hash was written into run.json too got
        it. The usual edit, config.json alone, said ``DIR/config.json does not match the
        run's config hash (seed differs ...)``: no ``cannot resume``, and no way out."""
        config_path = run_dir / "config.json"
        written = config_path.read_bytes()
        config = orjson.loads(written)
        config["seed"] += 1
        config_path.write_bytes(orjson.dumps(config) + b"\n")
        said = (
            f"{run_dir}/config.json was changed after the run began (seed differs from the "
            "config its checkpoint.json ran with): a resumed run keeps the settings it started "
            'with; put config.json back as it was (its checkpoint.json holds it under "config"), '
            "or start a new run with the new settings"
        )
        _resume_fails(
            run_dir,
            run_dir.parent,
            capsys,
            f"cannot resume {run_dir} (nothing was changed): {said}",
        )
        assert main(["status", str(run_dir)]) == 5
        assert f"resumable   no: {said}\n" in capsys.readouterr().out
        config_path.write_bytes(written)
        assert main(["resume", str(run_dir), "-q"]) == 0

    def test_edited_config_names_the_keys(self, run_dir, capsys):
        """The line names the keys that changed, from the config the checkpoint holds."""
        _edit_config(run_dir, seed=1, risk={"max_order_qty": "2"})
        _resume_fails(run_dir, run_dir.parent, capsys, "(risk.max_order_qty, seed differ from")

    @pytest.mark.parametrize(
        ("edits", "keys"),
        [
            ({"risk": {"max_order_qty": "2"}}, "risk.max_order_qty differs from"),
            ({"symbol": "ETH/USDT", "allowlist": ["ETH/USDT"]}, "allowlist, symbol differ"),
            ({"durability": "event"}, "durability differs from"),
            ({"checkpoint_every": 7}, "checkpoint_every differs from"),
        ],
    )
    def test_a_config_edited_with_a_matching_run_json_is_refused(
        self, run_dir, capsys, edits, keys
    ):
        """Bug: run.json's config_hash was all that held config.json, and it is outside the
        audit chain too. A risk limit (or the symbol) edited after the crash, and the new
        hash written into run.json, resumed: the run traded on under the new limit (on
        another instrument) and sealed, and ``verify`` then called it broken (config.json:
        not the config the run recorded as it started); a durability or checkpoint_every
        edited so (neither is in the audited digest) resumed with it unrecorded. Now the
        resume holds config.json to the audited config_sha256 and to the checkpoint's
        config, names the keys, and changes nothing; put back, the run resumes."""
        config_path = run_dir / "config.json"
        written = config_path.read_bytes()
        meta_written = (run_dir / "run.json").read_bytes()
        _edit_config(run_dir, **edits)
        _rehash(run_dir)
        _resume_fails(run_dir, run_dir.parent, capsys, keys)
        assert main(["status", str(run_dir)]) == 5
        said = f"resumable   no: {run_dir}/config.json was changed after the run began ({keys}"
        assert said in capsys.readouterr().out
        config_path.write_bytes(written)
        (run_dir / "run.json").write_bytes(meta_written)
        assert main(["resume", str(run_dir), "-q"]) == 0
        assert main(["verify", str(run_dir)]) == 0

    @pytest.mark.parametrize("version", ["0.2.99", "0.1.0", "garbage", None, 2])
    def test_a_run_json_version_its_events_deny_is_refused(self, run_dir, capsys, version):
        """Bug: resume took run.json's version on trust. Edited within this release (or
        taken out), the run resumed and sealed, and ``verify`` then called it broken
        (run.json was changed after the run); edited to ``0.1.0`` or ``garbage``, the line
        sent the operator to ``livesession 0.1.x`` or ``livesession garbage.x``, neither of
        which wrote it. Put back, the run resumes."""
        meta_path = run_dir / "run.json"
        written = meta_path.read_bytes()
        meta = orjson.loads(written)
        if version is None:
            del meta["version"]
        else:
            meta["version"] = version
        meta_path.write_bytes(orjson.dumps(meta) + b"\n")
        _resume_fails(run_dir, run_dir.parent, capsys, "run.json was changed after the run")
        assert main(["status", str(run_dir)]) == 5
        assert "resumable   no: cannot resume" in capsys.readouterr().out
        meta_path.write_bytes(written)
        assert main(["resume", str(run_dir), "-q"]) == 0
        assert main(["verify", str(run_dir)]) == 0

    def test_a_session_started_version_its_audit_record_denies_is_refused(self, run_dir, capsys):
        """Bug: events.jsonl's first line edited to say another version (as a copy made to
        look like another release's run would be) was resumed: the events below the
        checkpoint are not held to anything, and the sealed run failed ``verify``
        (C2_DRYRUN_START's payload is not that of events.jsonl:1). The run.json check
        then blamed run.json, which was as the run wrote it."""
        written = _start_says_another_version(run_dir, capsys)
        (run_dir / "events.jsonl").write_bytes(written)
        assert main(["resume", str(run_dir), "-q"]) == 0

    def test_the_same_denial_in_a_run_started_over_is_refused_as_such(self, tmp_path, capsys):
        """Bug: in a run resumed before its first checkpoint and killed again before one,
        the audit log opens with that resume's C2_RESUME, then C2_DRYRUN_START: the
        audited start was looked for in the first record only, so the two records'
        disagreement went unsaid and run.json was blamed (``run.json says livesession
        ..., but the run's audited record ... says livesession 777``). The leading
        C2_RESUME records are skipped now, as ``verify`` skips them."""
        profile = Profile(name="over", seed=3)
        assert dryrun(profile, tmp_path, crash_at="checkpoint:1").returncode == KILLED
        run_dir = tmp_path / profile.name
        assert cli("resume", run_dir, "-q", crash_at="checkpoint:1").returncode == KILLED
        audit = (run_dir / "audit.jsonl").read_bytes().splitlines()
        assert [orjson.loads(line)["code"] for line in audit[:2]] == [
            "C2_RESUME",
            "C2_DRYRUN_START",
        ]
        _start_says_another_version(run_dir, capsys)

    def test_a_run_json_lease_its_events_deny_is_refused(self, run_dir, capsys, tmp_path):
        """Bug: resume took run.json's ``lease`` on trust. Set to true on a run that took
        none, it resumed and sealed a run ``verify`` calls broken; set to false on a run
        that took one (below), it resumed without the lease, beside any other session of
        the account and strategy."""
        meta_path = run_dir / "run.json"
        meta = orjson.loads(meta_path.read_bytes())
        meta_path.write_bytes(orjson.dumps(meta | {"lease": True}) + b"\n")
        _resume_fails(run_dir, run_dir.parent, capsys, "run.json says lease true, but the run")
        leased = tmp_path / "leased"
        leased.mkdir()
        config = leased / "leased.toml"
        config.write_text(Profile(name="leased", seed=3).toml(), encoding="utf-8")
        crashed = cli(
            "dryrun", "-c", config, "--out", leased, "--lease", "-q", crash_at="write_events:40"
        )
        assert crashed.returncode == KILLED, crashed.stderr
        meta_path = leased / "leased" / "run.json"
        meta = orjson.loads(meta_path.read_bytes())
        assert meta["lease"] is True
        meta_path.write_bytes(orjson.dumps(meta | {"lease": False}) + b"\n")
        _resume_fails(
            leased / "leased",
            leased,
            capsys,
            "run.json says lease false, but the run's events record its session_lease",
        )

    def test_finished_run(self, run_dir, capsys):
        """A run that already ended has nothing to resume."""
        assert main(["resume", str(run_dir), "-q"]) == 0
        capsys.readouterr()
        # The status the run reported when it sealed, not its machine state (STOPPED).
        _resume_fails(
            run_dir,
            run_dir.parent,
            capsys,
            "nothing to resume: run resumable already ended with status COMPLETED",
        )

    def test_finished_run_says_what_reads_it(self, run_dir, capsys):
        """Resuming a sealed run printed no next step, and the exit-2 row's "fix what the
        line names and run again" does not fit a run that ended: the line names the commands
        that read it, as the line of a run another release sealed does."""
        assert main(["resume", str(run_dir), "-q"]) == 0
        capsys.readouterr()
        _resume_fails(
            run_dir,
            run_dir.parent,
            capsys,
            f"already ended with status COMPLETED (`livesession verify {run_dir}` checks it, "
            f"`livesession report {run_dir}` shows it)",
        )


@pytest.mark.parametrize(
    "flags",
    [
        ["--steps", "100"],
        ["--durability", "none"],
        ["--lease"],
        ["--clock", "system"],
        ["-c", "other.toml"],
        ["--config=other.toml"],
        ["--seed", "3"],
        ["--json", "--store", "postgres"],
    ],
)
def test_a_dryrun_flag_is_refused_saying_that_the_run_keeps_its_settings(run_dir, capsys, flags):
    """Bug: ``resume DIR --steps 100`` said ``unrecognized arguments: --steps 100``, and
    nothing (the help neither) said that a resumed run keeps the settings it started with.
    The line names the flag and says so; exit 2, nothing changed."""
    before = tree_hash(run_dir.parent)
    assert main(["resume", str(run_dir), *flags]) == 2
    captured = capsys.readouterr()
    name = next(flag for flag in flags if flag != "--json").split("=")[0]
    name = {"-c": "--config"}.get(name, name)
    assert captured.err == (
        f"livesession: error: resume takes no {name}: a resumed run keeps the settings it "
        "started with (its config.json and run.json: steps, clock, durability, lease, plug-ins "
        "and the rest); it takes --log-level, --quiet and --json only\n"
    )
    if "--json" in flags:
        assert orjson.loads(captured.out)["exit_code"] == 2
    assert tree_hash(run_dir.parent) == before


class TestAudit:
    """A bad audit line below the checkpoint offset is corruption, not a torn tail."""

    @pytest.mark.parametrize(
        ("damage", "fragment"),
        [
            (lambda line: b"X" + line[1:], "corrupt audit line"),
            (lambda line: line.replace(b'"seq":2', b'"seq":7'), "audit chain broken"),
            (_flip_hash_digit, "audit chain broken"),
        ],
        ids=["not-json", "seq", "prev-hash"],
    )
    def test_corrupt_middle_line(self, run_dir, capsys, damage, fragment):
        """Damaging audit line 2 of several below the checkpoint exits 2, naming the line."""
        path = run_dir / "audit.jsonl"
        data = path.read_bytes()
        lines = data[: _audit_offset(run_dir)].split(b"\n")[:-1]
        assert len(lines) >= 3
        damaged = damage(lines[1])
        assert len(damaged) == len(lines[1])
        assert damaged != lines[1]
        start = len(lines[0]) + 1
        path.write_bytes(data[:start] + damaged + data[start + len(damaged) :])
        _resume_fails(run_dir, run_dir.parent, capsys, f"audit.jsonl:2: {fragment}")

    def test_missing_audit_file(self, run_dir, capsys):
        """A checkpointed run whose audit.jsonl is gone exits 2."""
        (run_dir / "audit.jsonl").unlink()
        _resume_fails(run_dir, run_dir.parent, capsys, "audit.jsonl is missing")


class TestJournals:
    """A damaged venue journal is found before the run directory is changed."""

    @pytest.mark.parametrize("name", ["broker_journal.jsonl", "broker_journal.attempts.jsonl"])
    def test_corrupt_journal_line(self, run_dir, capsys, name):
        """A middle journal line that is not JSON exits 2 instead of failing mid-resume."""
        path = run_dir / name
        if not path.exists():
            path.write_bytes(b'{"attempt":1,"cid":"a","now_ns":0,"op":"submit"}\n' * 3)
        data = path.read_bytes()
        start = data.index(b"\n") + 1
        path.write_bytes(data[:start] + b"X" + data[start + 1 :])
        _resume_fails(run_dir, run_dir.parent, capsys, f"{name}:2: corrupt journal line")

    @pytest.mark.parametrize(
        ("line", "problem"),
        [
            (b'{"x":1}', "an op the venue never journals: None"),
            (b'{"now_ns":5,"op":"deliver","price":null}', "a deliver without its count"),
            (
                b'{"now_ns":5,"op":"submit","order":{"symbol":"BTC/USDT"},"price":null}',
                "a submit without its order",
            ),
            (
                b'{"cid":"c1","now_ns":5,"op":"touch","price":"abc"}',
                "a touch whose price is no decimal: 'abc'",
            ),
            (b'{"cid":"c1","now_ns":true,"op":"cancel","price":null}', "a cancel without its time"),
            (
                b'{"now_ns":5,"offset":"12","op":"resume","price":null}',
                "a resume without its offset",
            ),
        ],
        ids=["no-op", "deliver", "submit", "price", "now_ns", "resume"],
    )
    def test_a_json_line_that_is_no_request(self, run_dir, capsys, line, problem):
        """Bug: a whole JSON line of the venue journal that is no request the venue wrote
        (a line of another file, one edited by hand) passed the check, and the resume died
        half-way with a bare ``KeyError: 'op'`` traceback (exit 1). Now it exits 2 naming
        the line and what is wrong with it, before anything is changed."""
        path = run_dir / "broker_journal.jsonl"
        data = path.read_bytes()
        start = data.index(b"\n") + 1
        path.write_bytes(data[:start] + line + b"\n" + data[start:])  # longer: no length check
        _resume_fails(
            run_dir,
            run_dir.parent,
            capsys,
            f"broker_journal.jsonl:2: corrupt journal line ({problem}",
        )

    def test_a_journal_of_another_file_given_to_the_mock_venue(self, tmp_path):
        """``MockBroker(journal=...)`` on a file that is no venue journal: one line naming the
        file, the line and what is wrong (a ``KeyError: 'op'`` or a bare JSON error before)."""
        path = tmp_path / "orders.jsonl"
        path.write_bytes(b'{"order":"not ours"}\n')
        with pytest.raises(
            ValueError, match=r"orders\.jsonl:1: not a line of a venue journal \(an op"
        ):
            MockBroker(journal=path)
        path.write_bytes(b"symbol,price\n")
        with pytest.raises(ValueError, match=r"orders\.jsonl:1: .*\(not a JSON object\)"):
            MockBroker(journal=path)

    @pytest.mark.parametrize("held", [None, 0, "half", -1])
    def test_journal_shorter_than_its_checkpoint(self, run_dir, capsys, held):
        """Bug: a venue journal that lost its end (written without fsync: a power cut, an
        ext4 that stopped writing after an error, left it empty under a synced checkpoint)
        was replayed as it was: the venue forgot its orders, and the resumed run went on
        against it and verified, its venue order ids from ``m1`` again. Now refused, as a
        damaged journal is, and `status` says so (needs_operator)."""
        path = run_dir / "broker_journal.jsonl"
        recorded = orjson.loads((run_dir / "checkpoint.json").read_bytes())["broker_journal_offset"]
        assert 0 < recorded <= path.stat().st_size
        if held is None:
            path.unlink()
        else:
            size = {"half": recorded // 2, -1: recorded - 1}.get(held, held)
            path.write_bytes(path.read_bytes()[:size])
        holds = "is missing" if held is None else f"holds {path.stat().st_size} bytes"
        said = f"{path} {holds}, where the checkpoint recorded {recorded}: the record of what"
        _resume_fails(run_dir, run_dir.parent, capsys, said)
        assert main(["status", str(run_dir)]) == 5
        assert said in capsys.readouterr().out

    def test_journal_as_long_as_its_checkpoint_resumes(self, run_dir, capsys):
        """The journal cut back to the checkpoint's offset, its requests after it lost: a
        process killed there leaves that much, and the resume makes them again."""
        path = run_dir / "broker_journal.jsonl"
        recorded = orjson.loads((run_dir / "checkpoint.json").read_bytes())["broker_journal_offset"]
        path.write_bytes(path.read_bytes()[:recorded])
        assert main(["resume", str(run_dir), "-q"]) == 0
        assert main(["verify", str(run_dir)]) == 0


class TestFileSystem:
    """The file system refusing (a full disk) is one line and leaves the run resumable."""

    def test_a_full_disk_while_cutting_back_is_one_line_and_nothing_is_lost(
        self, run_dir, capsys, monkeypatch
    ):
        import livesession._rundir.resumecut as resume_module  # where the cut is made

        real = resume_module.truncate_to

        def full(path: Path, offset: int) -> bytes:
            raise OSError(28, "No space left on device", str(path) + ".torn")

        monkeypatch.setattr(resume_module, "truncate_to", full)
        assert main(["resume", str(run_dir), "-q"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert err.startswith(f"livesession: error: cannot resume {run_dir}: cutting ")
        assert "(No space left on device); nothing was changed: once" in err
        assert "Traceback" not in err
        monkeypatch.setattr(resume_module, "truncate_to", real)
        assert main(["resume", str(run_dir), "-q"]) == 0  # the lock was let go: room again
        assert capsys.readouterr().err == ""

    def test_a_full_disk_while_setting_the_tail_aside_leaves_no_torn_file(
        self, run_dir, capsys, monkeypatch
    ):
        """Bug: a resume refused on a still-full disk left an empty ``events.jsonl.torn``
        behind: the file was made, and the cut tail could not be written to it."""
        real_write = os.write

        def refusing(fd: int, data: Any) -> int:
            if Path(f"/proc/self/fd/{fd}").readlink().name.endswith(".torn"):  # made, then refused
                raise OSError(28, "No space left on device")
            return real_write(fd, data)

        with (run_dir / "events.jsonl").open("ab") as events:
            events.write(b'{"event_type":"BA')  # a torn last line: a tail to set aside
        before = tree_hash(run_dir.parent)
        with monkeypatch.context() as patched:
            patched.setattr(os, "write", refusing)
            assert main(["resume", str(run_dir), "-q"]) == 2
        assert "(No space left on device); nothing was changed: once" in capsys.readouterr().err
        assert not list(run_dir.glob("*.torn"))
        assert tree_hash(run_dir.parent) == before  # as it was, lock file included
        assert main(["resume", str(run_dir), "-q"]) == 0  # room again

    def test_a_cut_refused_part_way_puts_back_the_files_it_cut(self, run_dir, capsys, monkeypatch):
        """Bug: a full disk refusing the cut of ``state_snapshots.jsonl`` left
        ``events.jsonl``, cut just before, cut back (its tail in ``events.jsonl.torn``):
        the run was not the one the crash left, though the refusal said nothing was lost."""
        import livesession._rundir.resumecut as resume_module  # where the cut is made

        real = resume_module.truncate_to

        def full_after_events(path: Path, offset: int) -> bytes:
            if path.name != "events.jsonl":
                raise OSError(28, "No space left on device")
            return real(path, offset)

        before = _refused_with_a_tail(
            run_dir, monkeypatch, resume_module, "truncate_to", full_after_events
        )
        assert capsys.readouterr().err == (
            f"livesession: error: cannot resume {run_dir}: cutting state_snapshots.jsonl back "
            "to its checkpoint failed (No space left on device); nothing was changed: once the "
            "file system has room again, resume again\n"
        )
        # events.jsonl whole again, no .torn (its times are the put back's)
        assert _contents(run_dir) == before
        assert main(["resume", str(run_dir), "-q"]) == 0  # room again

    def test_a_store_that_will_not_open_after_the_cut_puts_the_tails_back(
        self, run_dir, capsys, monkeypatch
    ):
        """Bug: the session's store refusing to open (a database gone between the resume's
        check of its keys and the session's start) came after the cut, and left the run cut
        back to its checkpoint, its tail in ``events.jsonl.torn``."""
        import livesession._rundir.session as session_module  # where the session opens it

        def gone(*_: object, **__: object) -> None:
            raise StoreFailure("the idempotency store refused the connection")

        before = _refused_with_a_tail(run_dir, monkeypatch, session_module, "open_store", gone)
        assert capsys.readouterr().err.endswith(
            "the idempotency store refused the connection (nothing was changed: the tails it "
            "had cut back were put back)\n"
        )
        assert _contents(run_dir) == before
        assert main(["resume", str(run_dir), "-q"]) == 0

    def test_a_tail_that_cannot_be_put_back_leaves_the_run_cut_back_and_says_so(
        self, run_dir, capsys, monkeypatch
    ):
        """The disk refusing the tail's way back too: the run stays cut back, as a resume
        killed there leaves it, and the refusal, ``status`` and the next resume say so."""
        import livesession._rundir.session as session_module
        import livesession._rundir.uncut as uncut_module

        def gone(*_: object, **__: object) -> None:
            raise StoreFailure("the idempotency store refused the connection")

        def no_room(*_: object) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(uncut_module, "_put_back_one", no_room)
        _refused_with_a_tail(run_dir, monkeypatch, session_module, "open_store", gone)
        monkeypatch.undo()
        assert capsys.readouterr().err.endswith(
            "the idempotency store refused the connection (the run stays cut back to its "
            "checkpoint, its tails in events.jsonl.torn: putting the tail of events.jsonl back "
            "failed (No space left on device); status says so, and the next resume continues "
            "it)\n"
        )
        assert main(["status", str(run_dir)]) == 6
        assert "\nset aside   17 bytes in events.jsonl.torn (events.jsonl cut back to its " in (
            capsys.readouterr().out
        )
        assert main(["resume", str(run_dir), "-q"]) == 0

    def test_a_full_disk_while_writing_c2_resume_is_one_line_and_the_run_resumes(
        self, run_dir, capsys, monkeypatch
    ):
        """C2_RESUME is written out before the first step: a refusal then is the resume's."""
        from livesession._artifacts.sinks import FileLineSink

        def full(self: FileLineSink) -> None:
            raise OSError(28, "No space left on device")

        with monkeypatch.context() as patched:
            patched.setattr(FileLineSink, "flush", full)
            patched.setattr(FileLineSink, "sync", full)
            assert main(["resume", str(run_dir), "-q"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        # Written as the failed sink closed: the record stands, and the run stays cut back.
        assert err == (
            f"livesession: error: cannot resume {run_dir}: writing its C2_RESUME record "
            "failed (No space left on device): once the file system has room again, resume "
            "again (the run stays cut back to its checkpoint: its C2_RESUME record reached "
            "audit.jsonl; status says so, and the next resume continues it)\n"
        )
        assert "Traceback" not in err
        assert main(["resume", str(run_dir), "-q"]) == 0  # the lock was let go: room again
        assert capsys.readouterr().err == ""
        assert main(["verify", str(run_dir)]) == 0


class TestCliFileErrors:
    """An OSError no message of ours covers is still one line naming the file (exit 2)."""

    def test_report_into_a_directory_or_a_missing_one(self, run_dir, tmp_path, capsys):
        assert main(["resume", str(run_dir), "-q"]) == 0
        capsys.readouterr()
        (tmp_path / "taken").mkdir()
        assert main(["report", str(run_dir), "--output", str(tmp_path / "taken")]) == 2
        assert capsys.readouterr().err == (  # now a message of ours: the argument and the fix
            f"livesession: error: --output {tmp_path / 'taken'} is a directory: give a file's"
            f" path, e.g. {tmp_path / 'taken' / 'report.html'}\n"
        )
        missing = tmp_path / "gone" / "r.html"
        assert main(["report", str(run_dir), "--output", str(missing)]) == 2
        err = capsys.readouterr().err
        assert err == f"livesession: error: {tmp_path / 'gone'}: no such directory\n"


def test_a_sigterm_before_resume_takes_the_run_ends_it_143_with_nothing_changed(
    run_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """RUNBOOK's exit table listed 143 only for the commands other than dryrun/resume and a
    dryrun before its run exists; a resume signalled while it starts (before its own
    handlers and the run's lock) ends the same way: 143, and the run as it was."""
    import signal

    import livesession._cli_runs as runs

    real = runs.require_run

    def signalled(*args: Any, **kwargs: Any) -> Path:
        os.kill(os.getpid(), signal.SIGTERM)  # the operator's SIGTERM, as the resume starts
        return real(*args, **kwargs)

    before = tree_hash(run_dir.parent)
    monkeypatch.setattr(runs, "require_run", signalled)
    assert main(["resume", str(run_dir), "-q"]) == 143
    assert capsys.readouterr().err == "livesession: terminated\n"
    assert tree_hash(run_dir.parent) == before
