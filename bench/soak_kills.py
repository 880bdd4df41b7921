"""Soak: kill a real ``livesession`` CLI process at random wall-clock moments, resume, compare.

The crash harness (tests/crash_harness.py) kills at labelled crash points; this campaign
kills where the wall clock happens to be: inside a checkpoint's write, the seal, a SIGTERM
wind-down, a ``resume``'s own load. For each trial (a seed, a profile, a scenario) it runs
the same run id elsewhere, SIGKILLs it after a random delay, asks ``livesession status``
(which must say ``crashed``, exit 6, and ``resumable``, or say truthfully why not),
resumes, kills the resume at random too, ... until the run seals, then checks the promise:

- events.jsonl and state_snapshots.jsonl byte-identical to the uninterrupted run (a run
  stopped by SIGTERM: to an uninterrupted run stopped after the same step, made by pausing
  it at that step's last event line with ``LIVESESSION_PAUSE_AT`` and sending SIGTERM);
- audit.jsonl equal to the uninterrupted run's but for its ``C2_RESUME`` records, at most
  one per resume, and at least one per resume that was not killed;
- no client order id submitted twice to the venue (broker_journal.jsonl), and the
  idempotency store holding the uninterrupted run's keys and outcomes;
- metrics.json equal to the reference's but for the audit's length and head;
- no temporary file left; ``livesession verify`` OK.

Delays come from a ``random.Random`` seeded with the trial's seed: a failure prints its seed
and a command that runs that trial alone (wall-clock kills land near, not exactly, where
they landed before). One process at a time: the machine may be shared.

    python bench/soak_kills.py --minutes 30 --seed 1
    python bench/soak_kills.py --trial 100017 --keep /tmp/soak-failed
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

TIMEOUT_S = 300  # a hang guard for every child process
KILLED = -signal.SIGKILL
CRASHED, RUNNING = 6, 7

REALISH_FAULTS = """
[realish]
transient_rate = "0.2"
timeout_rate = "0.1"
duplicate_ack_rate = "0.2"
late_fill_rate = "0.3"
late_fill_ms = 600000
latency_ms = 250
"""

MOCK_LATENCY = """
[fill_model]
latency_ms = 30000
partial_fill_ratio = "0.3"
reject_rate = "0.1"
"""


@dataclass(frozen=True)
class Profile:
    """One run configuration: the reference run and every soaked run share it."""

    name: str
    broker: str
    durability: str
    backend: str
    seed: int
    extra: str = ""
    steps: int = 2500
    checkpoint_every: int = 4

    def toml(self) -> str:
        return (
            f'run_id = "{self.name}"\nseed = {self.seed}\nsteps = {self.steps}\n'
            f'broker = "{self.broker}"\ndurability = "{self.durability}"\n'
            f"checkpoint_every = {self.checkpoint_every}\n{self.extra}\n"
            "[strategy]\nfast = 2\nslow = 5\n"
        )


PROFILES = (
    Profile("mock-step", "mock", "step", "sqlite", 7),
    Profile("mock-none", "mock", "none", "jsonl", 11, MOCK_LATENCY),
    Profile("realish-step", "realish", "step", "sqlite", 8, REALISH_FAULTS),
    Profile("realish-none", "realish", "none", "sqlite", 5, REALISH_FAULTS),
)
SCENARIOS = ("kill", "term", "load")


# -- processes -------------------------------------------------------------------------------


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVESESSION_")}
    env.update(extra)
    return env


def _cli(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "livesession.cli", *map(str, args)]


def dryrun_args(profile: Profile, out: Path) -> list[str]:
    config = out / f"{profile.name}.toml"
    out.mkdir(parents=True, exist_ok=True)
    config.write_text(profile.toml(), encoding="utf-8")
    return _cli(
        "dryrun", "-c", config, "--out", out, "--idempotency-backend", profile.backend, "-q"
    )


def resume_args(run_dir: Path) -> list[str]:
    return _cli("resume", run_dir, "-q", "--log-level", "warning")


def run(command: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, env=_env(**env), capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )


@dataclass
class Ended:
    code: int
    stderr: str
    seconds: float


def killed_after(command: list[str], delay: float, term_delay: float | None = None) -> Ended:
    """Start ``command``; SIGKILL it after ``delay`` s (after SIGTERM, ``term_delay`` s more)."""
    start = time.monotonic()
    with subprocess.Popen(
        command,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        deadline = start + delay
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        if proc.returncode is None and term_delay is not None:
            proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=term_delay)
        if proc.returncode is None:
            proc.kill()
        assert proc.stderr is not None
        err = proc.stderr.read()
        code = proc.wait(timeout=TIMEOUT_S)
    return Ended(code, err.strip(), time.monotonic() - start)


def stopped_reference(profile: Profile, out: Path, last_line: int) -> Path:
    """The run stopped (SIGTERM) in the step whose events end at line ``last_line``."""
    command = dryrun_args(profile, out)
    # The sinks reach their crash points only when a crash is armed: one that never fires.
    env = _env(
        LIVESESSION_PAUSE_AT=f"write_events:{last_line}",
        LIVESESSION_CRASH_AT=f"write_events:{10**12}",
    )
    with subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ) as proc:
        _, status = os.waitpid(proc.pid, os.WUNTRACED)
        if not os.WIFSTOPPED(status):
            raise RuntimeError(f"the stopped reference ended before line {last_line}")
        os.kill(proc.pid, signal.SIGTERM)
        os.kill(proc.pid, signal.SIGCONT)
        code = proc.wait(timeout=TIMEOUT_S)
    if code != 0:
        raise RuntimeError(f"the stopped reference exited {code}")
    return out / profile.name


# -- reading runs ------------------------------------------------------------------------------


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def submits(run_dir: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    journal = run_dir / "broker_journal.jsonl"
    if journal.exists():
        for raw in journal.read_bytes().splitlines(keepends=True):
            if raw.endswith(b"\n"):
                entry = orjson.loads(raw)
                if entry["op"] == "submit":
                    counts[entry["order"]["client_order_id"]] += 1
    return counts


def store_rows(run_dir: Path) -> object:
    """The idempotency store's keys and outcomes (as comparable data)."""
    sqlite_file = run_dir / "idempotency.sqlite"
    if sqlite_file.exists():
        uri = f"file:{sqlite_file}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
            return sorted(db.execute("SELECT key, fingerprint, outcome FROM idempotency"))
    jsonl = run_dir / "idempotency.jsonl"
    if jsonl.exists():
        last: dict[str, Any] = {}
        for record in read_jsonl(jsonl):
            key = record.get("key") or record.get("client_order_id")
            last[str(key)] = {k: v for k, v in record.items() if k not in ("ts", "seq")}
        return sorted(last.items())
    return None


def audit_without_resumes(run_dir: Path) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in r.items() if k not in ("seq", "prev_hash")}
        for r in read_jsonl(run_dir / "audit.jsonl")
        if r["code"] != "C2_RESUME"
    ]


def stop_line(run_dir: Path) -> int | None:
    """The line of the last event before a SIGTERM stop's STOPPING, or None."""
    if not (run_dir / "events.jsonl").exists():  # killed as it started: it recorded nothing
        return None
    for number, event in enumerate(read_jsonl(run_dir / "events.jsonl"), start=1):
        payload = event["payload"]
        stopping = event["event_type"] == "STATE_CHANGED" and payload.get("to_state") == "STOPPING"
        if stopping and payload.get("reason") == "SIGNAL_SIGTERM":
            return number - 1
    return None


def first_difference(ours: bytes, theirs: bytes) -> str:
    a, b = ours.splitlines(), theirs.splitlines()
    for number, (x, y) in enumerate(zip(a, b, strict=False), start=1):
        if x != y:
            return f"first difference at line {number}"
    return f"{len(a)} lines against {len(b)}"


# -- a trial ------------------------------------------------------------------------------------


@dataclass
class Trial:
    seed: int
    profile: Profile
    scenario: str
    kills: int = 0
    resumes: int = 0
    resumes_not_killed: int = 0
    wind_down_kills: int = 0
    terminated_starting: int = 0
    stop_held: bool = False  # a crashed status said its checkpoint holds a SIGTERM's stop
    statuses: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    outcome: str = ""

    def fail(self, what: str) -> None:
        self.failures.append(what)

    def command(self) -> str:
        return f"python bench/soak_kills.py --trial {self.seed} --keep /tmp/soak-failed"


def plan(seed: int) -> tuple[Profile, str, random.Random]:
    rng = random.Random(seed)
    return rng.choice(PROFILES), rng.choice(SCENARIOS), rng


def ask_status(trial: Trial, run_dir: Path) -> int:
    """``status`` of a killed run: crashed (6) and resumable, or a truthful other answer."""
    proc = run(_cli("status", run_dir, "--json"))
    trial.statuses.append(str(proc.returncode))
    if proc.returncode == CRASHED:
        said = orjson.loads(proc.stdout)
        # STOPPING is also the run's own end's wind-down: a SIGTERM's is in events.jsonl.
        stopping = said.get("state") == "STOPPING" and stop_line(run_dir) is not None
        trial.stop_held = trial.stop_held or stopping
        if not said.get("resumable"):
            trial.fail(f"status said crashed (6) but not resumable: {said.get('resume_problem')}")
    elif proc.returncode == RUNNING:
        trial.fail("status said running (7) of a run whose process is dead")
    elif proc.returncode == 0:
        said = orjson.loads(proc.stdout)
        if not said.get("sealed"):
            trial.fail(f"status exit 0 for an unsealed run: {proc.stdout.strip()}")
    elif proc.returncode == 2:
        trial.notes.append(f"status 2: {proc.stdout.strip() or proc.stderr.strip()}")
    else:
        trial.fail(f"status exited {proc.returncode}: {proc.stdout.strip()} {proc.stderr.strip()}")
    return proc.returncode


def first_process(trial: Trial, rng: random.Random, command: list[str], ref: Reference) -> Ended:
    """The ``dryrun``, killed at random (a ``term`` trial: SIGTERM first, then SIGKILL)."""
    if trial.scenario != "term":
        return killed_after(command, ref.moment(rng))
    # The wind-down of a stop takes milliseconds: most kills come within them.
    wind_down = rng.uniform(0.0, 0.004) if rng.random() < 0.7 else rng.uniform(0.0, 0.1)
    return killed_after(command, rng.uniform(ref.startup, ref.seconds), wind_down)


def resume_once(
    trial: Trial, rng: random.Random, run_dir: Path, ref: Reference, rounds: int
) -> Ended:
    """One ``resume``, killed with a falling chance ("load" trials: mostly as it loads)."""
    trial.resumes += 1
    chance = 0.8 if rounds < 4 else 0.3 if rounds < 8 else 0.0
    delay, wind_down = float(TIMEOUT_S), None
    if rng.random() < chance:
        loading = trial.scenario == "load" and rng.random() < 0.7
        delay = rng.uniform(0.0, ref.startup * 1.2) if loading else ref.moment(rng)
        if trial.scenario == "term" and rng.random() < 0.5:
            wind_down = rng.uniform(0.0, 0.004)  # the resume's own stop, killed as it winds down
    before = digests(run_dir)
    ended = killed_after(resume_args(run_dir), delay, wind_down)
    if ended.code == 0:
        trial.resumes_not_killed += 1
    elif ended.code == -signal.SIGTERM:
        # Documented: SIGTERM before a resume takes the run ends it (143), nothing changed.
        trial.terminated_starting += 1
        changed = sorted(k for k in before.keys() | digests(run_dir).keys() if k not in before)
        changed += sorted(k for k, v in before.items() if digests(run_dir).get(k) != v)
        if changed:
            trial.fail(f"a resume ended by SIGTERM as it started changed {changed}")
    return ended


def digests(run_dir: Path) -> dict[str, str]:
    """Each file of the run directory and its SHA-256."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(run_dir.iterdir())
        if p.is_file()
    }


def settle(trial: Trial, run_dir: Path, verdict: int) -> Path | None:
    """After a kill that ``status`` did not call crashed: is what it said true?"""
    if verdict == 0:
        # Sealed already: resume writes a missing sealing checkpoint, or refuses (2).
        proc = run(resume_args(run_dir))
        if proc.returncode not in (0, 2):
            trial.fail(f"resume of a sealed run exited {proc.returncode}: {proc.stderr}")
        return run_dir
    if verdict == 2 and not (run_dir / "run.json").exists():
        proc = run(resume_args(run_dir))
        if proc.returncode != 2:
            trial.fail(f"resume of a directory that is no run exited {proc.returncode}")
        trial.outcome = "killed before the run existed (status and resume say so)"
        return None
    trial.fail(f"status exited {verdict} after a kill; {trial.notes[-1:]}")
    return None


def soak(trial: Trial, rng: random.Random, work: Path, ref: Reference) -> Path | None:
    """Kill, ask, resume ... until sealed. The run directory, or None when none was made."""
    out = work / "soaked"
    run_dir = out / trial.profile.name
    ended = first_process(trial, rng, dryrun_args(trial.profile, out), ref)
    rounds = 0
    while ended.code == KILLED or (rounds and ended.code == -signal.SIGTERM):
        trial.kills += ended.code == KILLED
        rounds += 1
        if not run_dir.exists():
            trial.outcome = "killed before the run directory existed"
            return None
        verdict = ask_status(trial, run_dir)
        if verdict == CRASHED and stop_line(run_dir) is not None:
            trial.wind_down_kills += 1  # killed inside a stop's wind-down, after its STOPPING
        if verdict != CRASHED:
            return settle(trial, run_dir, verdict)
        ended = resume_once(trial, rng, run_dir, ref, rounds)
    if ended.code == 0:
        return run_dir
    if trial.scenario == "term" and ended.code == -signal.SIGTERM and not run_dir.exists():
        trial.outcome = "terminated before the run existed"
        return None
    trial.fail(f"a process exited {ended.code}: {ended.stderr[-400:]}")
    return None


def check(trial: Trial, run_dir: Path, reference: Path, work: Path) -> None:
    """The promise, against the uninterrupted run (or the one stopped after the same step)."""
    profile = trial.profile
    line = stop_line(run_dir)
    if line is not None:
        trial.outcome = f"stopped by SIGTERM after line {line}"
        reference = stopped_reference(profile, work / "stopped", line)
    else:
        trial.outcome = trial.outcome or "completed"
        if trial.stop_held:
            trial.fail("status said the checkpoint holds a stop (STOPPING); the resume ran on")
    check_files(trial, run_dir, reference)
    proc = run(_cli("verify", run_dir))
    if proc.returncode != 0:
        trial.fail(f"verify exited {proc.returncode}: {proc.stdout.strip()[:600]}")
    status = run(_cli("status", run_dir))
    if status.returncode != 0:
        trial.fail(f"status of the sealed run exited {status.returncode}")


def check_files(trial: Trial, run_dir: Path, reference: Path) -> None:
    """The run's files against the reference's."""
    for cid, n in sorted(submits(run_dir).items()):
        if n > 1:
            trial.fail(f"client order id {cid} submitted {n} times to the venue")
    for name in ("events.jsonl", "state_snapshots.jsonl"):
        ours, theirs = (run_dir / name).read_bytes(), (reference / name).read_bytes()
        if ours != theirs:
            trial.fail(f"{name} differs from the reference ({first_difference(ours, theirs)})")
    if audit_without_resumes(run_dir) != audit_without_resumes(reference):
        trial.fail("audit.jsonl differs from the reference beyond C2_RESUME")
    resumes = sum(r["code"] == "C2_RESUME" for r in read_jsonl(run_dir / "audit.jsonl"))
    if not trial.resumes_not_killed <= resumes <= trial.resumes:
        trial.fail(
            f"{resumes} C2_RESUME records after {trial.resumes} resumes "
            f"({trial.resumes_not_killed} not killed)"
        )
    ours, theirs = (orjson.loads((d / "metrics.json").read_bytes()) for d in (run_dir, reference))
    changed = sorted(k for k in ours.keys() | theirs.keys() if ours.get(k) != theirs.get(k))
    if not set(changed) <= {"audit_events", "audit_head"}:
        trial.fail(f"metrics.json differs from the reference's in {changed}")
    if store_rows(run_dir) != store_rows(reference):
        trial.fail("the idempotency store differs from the reference's")
    leftovers = sorted(p.name for p in run_dir.iterdir() if p.name.endswith(".tmp"))
    if leftovers:
        trial.fail(f"temporary files left: {leftovers}")


@dataclass
class Reference:
    """The uninterrupted run, how long its process took, and how much of it was start-up."""

    run_dir: Path
    seconds: float
    startup: float

    def moment(self, rng: random.Random) -> float:
        """A kill's delay: mostly while it steps, sometimes in its start or at its seal."""
        pick = rng.random()
        if pick < 0.1:
            return rng.uniform(0.0, self.startup)
        if pick < 0.2:
            return rng.uniform(self.seconds * 0.92, self.seconds * 1.05)
        return rng.uniform(self.startup, self.seconds)


def reference_run(profile: Profile, base: Path) -> Reference:
    out = base / "reference" / profile.name
    run_dir = out / profile.name
    command = dryrun_args(profile, out)
    start = time.monotonic()
    startup = 0.0
    with subprocess.Popen(command, env=_env(), stderr=subprocess.DEVNULL) as proc:
        while proc.poll() is None:
            if not startup and (run_dir / "checkpoint.json").exists():
                startup = time.monotonic() - start
            time.sleep(0.002)
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        raise RuntimeError(f"reference {profile.name} exited {proc.returncode}")
    return Reference(run_dir, seconds, startup or seconds / 2)


def one_trial(seed: int, base: Path, refs: dict[str, Reference], keep: Path | None) -> Trial:
    profile, scenario, rng = plan(seed)
    if profile.name not in refs:
        refs[profile.name] = reference_run(profile, base)
    ref = refs[profile.name]
    trial = Trial(seed, profile, scenario)
    work = base / f"trial-{seed}"
    try:
        run_dir = soak(trial, rng, work, ref)
        if run_dir is not None and not trial.failures:
            check(trial, run_dir, ref.run_dir, work)
    except (RuntimeError, OSError, subprocess.TimeoutExpired, orjson.JSONDecodeError) as exc:
        trial.fail(f"{type(exc).__name__}: {exc}")
    if trial.failures and keep is not None:
        shutil.copytree(work, keep / f"trial-{seed}", dirs_exist_ok=True)
    shutil.rmtree(work, ignore_errors=True)
    return trial


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    """A tmpfs when there is one (a SIGKILL keeps the page cache either way)."""
    shm = Path("/dev/shm")
    where = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    path = Path(tempfile.mkdtemp(prefix="livesession-soak-", dir=where))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--seed", type=int, default=0, help="campaign seed, trial seeds follow (0: a fresh one)"
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="stop starting trials after")
    parser.add_argument("--trials", type=int, default=0, help="at most this many (0: no limit)")
    parser.add_argument("--trial", type=int, default=None, help="run this one trial seed alone")
    parser.add_argument("--keep", type=Path, default=None, help="copy failed trials here")
    args = parser.parse_args(argv)
    # Stopped by SIGTERM, the campaign still removes its scratch directory.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.seed == 0:
        args.seed = random.SystemRandom().randint(1, 9999)  # each campaign explores afresh
    if args.trial is None:
        print(f"soak: campaign seed {args.seed}", flush=True)
    seeds: Iterator[int]
    if args.trial is not None:
        seeds = iter([args.trial])
    else:
        seeds = iter(range(args.seed * 100_000, args.seed * 100_000 + 100_000))
    end = time.monotonic() + args.minutes * 60
    trials: list[Trial] = []
    with scratch() as base:
        refs: dict[str, Reference] = {}
        for seed in seeds:
            if args.trial is None and time.monotonic() > end:
                break
            if args.trials and len(trials) >= args.trials:
                break
            trial = one_trial(seed, base, refs, args.keep)
            trials.append(trial)
            mark = "FAIL" if trial.failures else "ok"
            print(
                f"{mark} seed {seed} {trial.profile.name} {trial.scenario}: {trial.kills} kills, "
                f"{trial.resumes} resumes ({trial.wind_down_kills} kills in a wind-down, "
                f"{trial.terminated_starting} SIGTERMs as a resume started), "
                f"status {','.join(trial.statuses) or '-'}; "
                f"{trial.outcome}",
                flush=True,
            )
            for failure in trial.failures:
                print(f"    {failure}\n    reproduce: {trial.command()}", flush=True)
            for note in trial.notes:
                print(f"    note: {note[:300]}", flush=True)
    failed = [t for t in trials if t.failures]
    outcomes = Counter(t.outcome.split(" after ")[0] for t in trials)
    print(
        f"soak: {len(trials)} trials, {sum(t.kills for t in trials)} SIGKILLs, "
        f"{sum(t.resumes for t in trials)} resumes, "
        f"{sum(t.wind_down_kills for t in trials)} SIGKILLs inside a wind-down, "
        f"{sum(t.terminated_starting for t in trials)} resumes ended by SIGTERM as they started, "
        f"{len(failed)} failed; outcomes {dict(outcomes)}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
