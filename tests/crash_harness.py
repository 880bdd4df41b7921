"""Kill the ``livesession`` CLI with SIGKILL at labelled crash points, resume, and check.

A ``CrashPlan`` names a run profile (config, seed, broker, idempotency backend) and a list
of ``LIVESESSION_CRASH_AT`` specs: the first arms the ``dryrun`` process, each further one
arms one ``livesession resume`` (so a resume can be killed too). After the planned kills
the harness resumes without a crash point until the run completes, then checks the run
directory against an uninterrupted run of the same profile in another directory:

- every resume exits 0 (and every armed process either dies by SIGKILL or completes);
- no client order id reached the venue twice (``submit`` lines in ``broker_journal.jsonl``);
- the audit chain verifies (an independent check here: seq, prev_hash, the closing
  digests, metrics' audit head) and the verifier finds nothing the uninterrupted run
  did not have;
- for exact profiles: events.jsonl and state_snapshots.jsonl are byte-identical, the audit
  records equal the uninterrupted run's apart from ``C2_RESUME`` (seq and prev_hash
  removed), and metrics.json differs only in ``audit_events`` and ``audit_head``.

Crash moments come from a seeded ``random.Random`` (a label and a hit count), never from
wall-clock timers. Runs go to a tmpfs when there is one: a SIGKILL does not lose the page
cache, so what is tested does not depend on fsync, and the sweep runs several times faster.

Run it alone for a deeper sweep: ``python tests/crash_harness.py --plans 400 --seed 7``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import hashlib
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

KILLED = -9  # subprocess.returncode of a child that died by SIGKILL
GENESIS = "0" * 64
SUBPROCESS_TIMEOUT_S = 300  # a hang guard only; crashes are armed by hit counts, not timers
SINK_LABELS = tuple(
    f"{kind}_{sink}" for sink in ("events", "states", "audit") for kind in ("write", "torn")
)
LABELS = ("before_send", "after_send", "checkpoint", "checkpoint_tmp", *SINK_LABELS)
# create_run writes config.json and run.json atomically first; a kill there leaves a
# directory that is not a run yet (resume rightly refuses it), so the first process is
# only armed from the first checkpoint-time write on.
FIRST_RUN_MIN_HIT = {"checkpoint_tmp": 3}
# After the first kill, the first resume is killed too with the first chance, the second
# with the second (if the first was), and so on: a killed resume is resumed again.
RESUME_KILL_CHANCES = (0.85, 0.65, 0.4)
_LINE_NO = re.compile(r":\d+:")


@dataclass(frozen=True)
class Profile:
    """One run configuration: the crashed runs and the uninterrupted one share it."""

    name: str
    broker: str = "mock"
    backend: str = "sqlite"
    seed: int = 7
    steps: int = 150
    exact: bool = True
    extra_toml: str = ""

    def toml(self) -> str:
        return (
            f'run_id = "{self.name}"\nseed = {self.seed}\nsteps = {self.steps}\n'
            f'broker = "{self.broker}"\ndurability = "none"\ncheckpoint_every = 1\n'
            f"{self.extra_toml}\n[strategy]\nfast = 2\nslow = 5\n"
        )


REALISH_TOML = """
[realish]
transient_rate = "0.3"
timeout_rate = "0.2"
duplicate_ack_rate = "0.3"
late_fill_rate = "0.5"
late_fill_ms = 600000
latency_ms = 250
"""

MOCK_LATENCY_TOML = """
[fill_model]
latency_ms = 30000
partial_fill_ratio = "0.3"
reject_rate = "0.1"
"""

PROFILES = {
    p.name: p
    for p in (
        Profile(name="mock-sqlite", backend="sqlite", seed=7),
        Profile(name="mock-jsonl", backend="jsonl", seed=11, extra_toml=MOCK_LATENCY_TOML),
        Profile(
            name="realish-sqlite",
            broker="realish",
            backend="sqlite",
            seed=8,
            extra_toml=REALISH_TOML,
        ),
        Profile(
            name="realish-jsonl",
            broker="realish",
            backend="jsonl",
            seed=5,
            extra_toml=REALISH_TOML,
        ),
    )
}


@dataclass(frozen=True)
class CrashPlan:
    """A profile and the crash specs of the dryrun process and of each resume after it."""

    profile: Profile
    kills: tuple[str, ...]
    origin: str = "random"

    @property
    def name(self) -> str:
        specs = "+".join(k.replace(":", "@") for k in self.kills)
        return f"{self.profile.name}.{self.origin}.{specs}"


@dataclass
class PlanResult:
    """What happened to one plan: exit codes, kills, resumes and any violations."""

    plan: CrashPlan
    exit_codes: list[int] = field(default_factory=list)
    kills: int = 0
    resumes: int = 0
    killed_labels: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    verified: bool = False

    def fail(self, category: str, message: str) -> None:
        self.violations.append(f"[{category}] {self.plan.name}: {message}")


# -- running the CLI ----------------------------------------------------------------------


def cli(
    *args: str | Path, crash_at: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``livesession`` in a subprocess (in ``cwd``); ``crash_at`` arms LIVESESSION_CRASH_AT."""
    env = dict(os.environ)
    env.pop("LIVESESSION_CRASH_AT", None)
    if crash_at is not None:
        env["LIVESESSION_CRASH_AT"] = crash_at
    return subprocess.run(
        [sys.executable, "-m", "livesession.cli", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
        check=False,
    )


def dryrun_stopped_at(config: Path, out: Path, *, pause_at: str, crash_at: str) -> int:
    """Run ``dryrun -c config``, stop it gracefully at an exact point, and kill it later.

    The process stops itself (SIGSTOP, ``LIVESESSION_PAUSE_AT``) at ``pause_at``; it is
    sent SIGTERM while stopped and continued, so the stop begins at the next step boundary
    whatever the machine's speed: a stop at a step a resumed session has no reason to
    repeat. ``crash_at`` then kills it (a crash point of the wind-down, say). Returns the
    exit code (``KILLED`` when the crash point was reached).
    """
    env = dict(os.environ)
    env.update(LIVESESSION_PAUSE_AT=pause_at, LIVESESSION_CRASH_AT=crash_at)
    command = [sys.executable, "-m", "livesession.cli", "dryrun", "-c", str(config)]
    with subprocess.Popen([*command, "--out", str(out), "-q"], env=env) as proc:
        _, status = os.waitpid(proc.pid, os.WUNTRACED)  # blocks until it stopped itself
        if not os.WIFSTOPPED(status):
            raise RuntimeError(f"dryrun ended before it reached {pause_at} (status {status})")
        os.kill(proc.pid, signal.SIGTERM)  # pending while it is stopped
        os.kill(proc.pid, signal.SIGCONT)
        return proc.wait(timeout=SUBPROCESS_TIMEOUT_S)


def dryrun(
    profile: Profile, out: Path, *, crash_at: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Start ``profile``'s run in ``out/<profile.name>``."""
    out.mkdir(parents=True, exist_ok=True)
    config = out / f"{profile.name}.toml"
    config.write_text(profile.toml(), encoding="utf-8")
    return cli(
        "dryrun",
        "--config",
        config,
        "--out",
        out,
        "--idempotency-backend",
        profile.backend,
        "--log-level",
        "warning",
        "-q",
        crash_at=crash_at,
    )


def run_baseline(profile: Profile, out: Path) -> Path:
    """The uninterrupted run of ``profile``; raises when it does not complete."""
    proc = dryrun(profile, out)
    if proc.returncode != 0:
        raise RuntimeError(f"baseline {profile.name} exited {proc.returncode}: {proc.stderr}")
    return out / profile.name


# -- choosing crash moments ---------------------------------------------------------------


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def hit_budget(baseline: Path) -> dict[str, int]:
    """How often each label is reached in an uninterrupted run (a lower bound is enough)."""
    events = read_jsonl(baseline / "events.jsonl")
    submitted = sum(e["event_type"] == "ORDER_SUBMITTED" for e in events)
    snapshots = len(baseline.joinpath("state_snapshots.jsonl").read_bytes().splitlines())
    audits = len(baseline.joinpath("audit.jsonl").read_bytes().splitlines())
    checkpoints = orjson.loads(baseline.joinpath("metrics.json").read_bytes())["steps"] + 2
    return {
        "before_send": submitted,
        "after_send": submitted,
        "checkpoint": checkpoints,
        "checkpoint_tmp": 2 + 2 * checkpoints,
        "write_events": len(events),
        "torn_events": len(events),
        "write_states": snapshots,
        "torn_states": snapshots,
        "write_audit": audits,
        "torn_audit": audits,
    }


def follow_ups(
    first: str, budget: dict[str, int], rng: random.Random, chances: Sequence[float]
) -> list[str]:
    """Kills for the resumes after ``first``: each next one with the next chance, seeded."""
    label, _, count = first.partition(":")
    left = 1 - int(count) / max(1, budget[label])
    kills = []
    for chance in chances:
        if rng.random() >= chance:
            break
        label = rng.choice(LABELS)
        # A resume replays from the checkpoint, so about ``left`` of the run remains.
        hits = rng.randint(1, max(1, int(budget[label] * left)))
        kills.append(f"{label}:{hits}")
        left = max(0.0, left - hits / max(1, budget[label]))
    return kills


def targeted_plans(
    profile: Profile,
    budget: dict[str, int],
    per_label: int,
    rng: random.Random,
    chances: Sequence[float],
) -> list[CrashPlan]:
    """A first kill at each label: at the middle hit, or ``per_label`` from first to last."""
    plans = []
    for label in LABELS:
        low = FIRST_RUN_MIN_HIT.get(label, 1)
        high = max(low, budget[label])
        if per_label == 1:
            counts = {(low + high) // 2}
        else:
            counts = {low + (high - low) * i // (per_label - 1) for i in range(per_label)}
        for n in sorted(counts):
            first = f"{label}:{n}"
            kills = (first, *follow_ups(first, budget, rng, chances))
            plans.append(CrashPlan(profile, kills, "targeted"))
    return plans


def random_plans(
    profile: Profile,
    budget: dict[str, int],
    count: int,
    rng: random.Random,
    chances: Sequence[float],
) -> list[CrashPlan]:
    """``count`` plans whose first kill is at a random label and hit count too."""
    plans = []
    for _ in range(count):
        label = rng.choice(LABELS)
        low = FIRST_RUN_MIN_HIT.get(label, 1)
        first = f"{label}:{rng.randint(low, max(low, budget[label]))}"
        kills = (first, *follow_ups(first, budget, rng, chances))
        plans.append(CrashPlan(profile, kills, "random"))
    return plans


# -- executing a plan ----------------------------------------------------------------------


def execute(plan: CrashPlan, out: Path, baseline: Path, *, verify: bool = False) -> PlanResult:
    """Crash, resume and check one plan in ``out`` (a fresh directory)."""
    result = PlanResult(plan)
    run_dir = out / plan.profile.name
    completed = False
    for index, spec in enumerate(plan.kills):
        if index == 0:
            proc = dryrun(plan.profile, out, crash_at=spec)
        else:
            proc = cli("resume", run_dir, "--log-level", "warning", "-q", crash_at=spec)
            result.resumes += 1
        result.exit_codes.append(proc.returncode)
        if proc.returncode == KILLED:
            result.kills += 1
            result.killed_labels.append(spec.partition(":")[0])
        elif proc.returncode == 0:
            completed = True
            break
        else:
            result.fail("exit", f"{spec} exited {proc.returncode}: {proc.stderr.strip()}")
            return result
    if not completed:
        proc = cli("resume", run_dir, "--log-level", "warning", "-q")
        result.resumes += 1
        result.exit_codes.append(proc.returncode)
        if proc.returncode != 0:
            result.fail("resume", f"final resume exited {proc.returncode}: {proc.stderr.strip()}")
            return result
    check_run(result, run_dir, baseline)
    if verify:
        check_verifier(result, run_dir, baseline)
    return result


def check_run(result: PlanResult, run_dir: Path, baseline: Path) -> None:
    """Apply every invariant to a completed run directory."""
    for cid, sent in duplicate_submits(run_dir / "broker_journal.jsonl").items():
        result.fail("duplicate", f"client order id {cid} reached the venue {sent} times")
    for problem in audit_chain_problems(run_dir):
        result.fail("chain", problem)
    resumes = sum(r["code"] == "C2_RESUME" for r in read_jsonl(run_dir / "audit.jsonl"))
    if result.kills and not 1 <= resumes <= result.resumes:
        result.fail("audit", f"{resumes} C2_RESUME records after {result.resumes} resumes")
    leftovers = sorted(p.name for p in run_dir.glob(".*.tmp"))
    if leftovers:
        result.fail("tmp", f"temporary files left behind: {leftovers}")
    if result.plan.profile.exact:
        compare_exact(result, run_dir, baseline)


def compare_exact(result: PlanResult, run_dir: Path, baseline: Path) -> None:
    """Events and snapshots byte-identical; audit and metrics equal but for the resumes."""
    for name in ("events.jsonl", "state_snapshots.jsonl"):
        ours, theirs = (run_dir / name).read_bytes(), (baseline / name).read_bytes()
        if ours != theirs:
            result.fail(
                "identical",
                f"{name} differs from the uninterrupted run ({first_diff(ours, theirs)})",
            )
    ours_audit = comparable_audit(run_dir / "audit.jsonl")
    theirs_audit = comparable_audit(baseline / "audit.jsonl")
    if ours_audit != theirs_audit:
        result.fail("audit", "audit records differ from the uninterrupted run beyond C2_RESUME")
    ours_metrics = orjson.loads((run_dir / "metrics.json").read_bytes())
    theirs_metrics = orjson.loads((baseline / "metrics.json").read_bytes())
    changed = sorted(
        key
        for key in ours_metrics.keys() | theirs_metrics.keys()
        if ours_metrics.get(key) != theirs_metrics.get(key)
    )
    if not set(changed) <= {"audit_events", "audit_head"}:
        result.fail("metrics", f"metrics.json differs in {changed}")


def check_verifier(result: PlanResult, run_dir: Path, baseline: Path) -> None:
    """The verifier finds nothing in the resumed run that the uninterrupted run lacked.

    Every such finding fails the plan: a run resumed from nothing (killed before its first
    checkpoint) opens its audit log with ``C2_RESUME``, which the verifier accepts before
    ``C2_DRYRUN_START``, so no finding is excused as a known gap.
    """
    try:
        from livesession.verify import verify_run
    except ImportError:
        return
    if baseline not in _BASELINE_FINDINGS:
        _BASELINE_FINDINGS[baseline] = verifier_findings(verify_run, baseline)
    new = verifier_findings(verify_run, run_dir) - _BASELINE_FINDINGS[baseline]
    for finding in sorted(new):
        result.fail("verify", finding)
    result.verified = True


_BASELINE_FINDINGS: dict[Path, set[str]] = {}


def verifier_findings(verify_run: Any, run_dir: Path) -> set[str]:
    return {_LINE_NO.sub(":", v) for v in verify_run(run_dir).violations}


def duplicate_submits(journal: Path) -> dict[str, int]:
    """Client order ids with more than one ``submit`` in the venue journal."""
    counts: Counter[str] = Counter()
    if journal.exists():
        for raw in journal.read_bytes().splitlines(keepends=True):
            if raw.endswith(b"\n"):
                entry = orjson.loads(raw)
                if entry["op"] == "submit":
                    counts[entry["order"]["client_order_id"]] += 1
    return {cid: n for cid, n in sorted(counts.items()) if n > 1}


def audit_chain_problems(run_dir: Path) -> Iterator[str]:
    """An independent check of audit.jsonl: chain, closing digests and metrics' head."""
    data = (run_dir / "audit.jsonl").read_bytes()
    if data and not data.endswith(b"\n"):
        yield "audit.jsonl ends in a torn line"
    prev, record = GENESIS, None
    lines = data.split(b"\n")[:-1]
    for number, raw in enumerate(lines, start=1):
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError:
            yield f"audit.jsonl:{number}: not JSON"
            return
        if record.get("seq") != number or record.get("prev_hash") != prev:
            yield f"audit.jsonl:{number}: chain broken (seq {record.get('seq')})"
            return
        prev = hashlib.sha256(raw).hexdigest()
    if record is None or record.get("code") != "C2_DRYRUN_STOP":
        yield "audit.jsonl does not close with C2_DRYRUN_STOP"
        return
    digests = record["payload"].get("digests", {})
    for name in ("events.jsonl", "state_snapshots.jsonl"):
        actual = hashlib.sha256((run_dir / name).read_bytes()).hexdigest()
        if digests.get(name) != actual:
            yield f"C2_DRYRUN_STOP digest of {name} does not match the file"
    metrics = orjson.loads((run_dir / "metrics.json").read_bytes())
    if metrics.get("audit_head") != prev or metrics.get("audit_events") != len(lines):
        yield "metrics.json audit_head/audit_events do not match audit.jsonl"


def comparable_audit(path: Path) -> list[dict[str, Any]]:
    """Audit records without C2_RESUME, seq and prev_hash."""
    return [
        {k: v for k, v in record.items() if k not in ("seq", "prev_hash")}
        for record in read_jsonl(path)
        if record["code"] != "C2_RESUME"
    ]


def first_diff(a: bytes, b: bytes) -> str:
    for number, (x, y) in enumerate(zip(a.splitlines(), b.splitlines(), strict=False), start=1):
        if x != y:
            return f"first difference at line {number}"
    return f"{len(a.splitlines())} lines against {len(b.splitlines())}"


# -- the sweep -----------------------------------------------------------------------------


@dataclass
class SweepReport:
    """The results of a sweep, with the totals the tests print and assert on."""

    results: list[PlanResult]

    @property
    def kills(self) -> int:
        return sum(r.kills for r in self.results)

    @property
    def resumes(self) -> int:
        return sum(r.resumes for r in self.results)

    @property
    def violations(self) -> list[str]:
        return [v for r in self.results for v in r.violations]

    def kills_by_label(self) -> dict[str, int]:
        return dict(sorted(Counter(lbl for r in self.results for lbl in r.killed_labels).items()))

    def kills_by_profile(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for r in self.results:
            counts[r.plan.profile.name] += r.kills
        return dict(sorted(counts.items()))

    def summary(self) -> str:
        multi = sum(r.kills > 1 for r in self.results)
        return (
            f"crash sweep: {len(self.results)} plans, {self.kills} SIGKILLs, {self.resumes} resumes, "
            f"{multi} plans with a killed resume, {sum(r.verified for r in self.results)} verified; "
            f"kills by label {self.kills_by_label()}; by profile {self.kills_by_profile()}"
        )


def default_workers() -> int:
    # Subprocesses spend part of their life starting up and waiting on files: one more
    # worker than cores keeps the cores busy.
    return max(2, min(4, (os.cpu_count() or 2) + 1))


@contextlib.contextmanager
def scratch_dir(fallback: Path) -> Iterator[Path]:
    """A directory for the runs: ``$LIVESESSION_CRASH_SCRATCH``, else a roomy tmpfs, else ``fallback``."""
    chosen = os.environ.get("LIVESESSION_CRASH_SCRATCH")
    base = Path(chosen) if chosen else None
    shm = Path("/dev/shm")
    if base is None and shm.is_dir() and os.access(shm, os.W_OK):
        with contextlib.suppress(OSError):
            if shutil.disk_usage(shm).free > 512 * 2**20:
                base = shm
    if base is None:
        fallback.mkdir(parents=True, exist_ok=True)
        yield fallback
        return
    path = Path(tempfile.mkdtemp(prefix="livesession-crash-", dir=base))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def build_plans(
    baselines: dict[str, Path],
    *,
    seed: int,
    random_count: dict[str, int],
    per_label: dict[str, int],
    chances: Sequence[float] = RESUME_KILL_CHANCES,
) -> list[CrashPlan]:
    """Targeted and random plans for each profile, deterministic for ``seed``."""
    rng = random.Random(seed)
    plans: list[CrashPlan] = []
    for name in sorted(baselines):
        profile = PROFILES[name]
        budget = hit_budget(baselines[name])
        if per_label.get(name):
            plans.extend(targeted_plans(profile, budget, per_label[name], rng, chances))
        plans.extend(random_plans(profile, budget, random_count.get(name, 0), rng, chances))
    return plans


def sweep(
    work: Path,
    *,
    seed: int,
    random_count: dict[str, int],
    per_label: dict[str, int],
    workers: int | None = None,
    verify_every: int = 10,
    keep_failed: Path | None = None,
) -> SweepReport:
    """Run baselines, then every plan in parallel; failed plans are kept in ``keep_failed``."""
    names = sorted(set(random_count) | set(per_label))
    workers = workers or default_workers()
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {n: pool.submit(run_baseline, PROFILES[n], work / "baseline" / n) for n in names}
        baselines = {n: f.result() for n, f in futures.items()}
        plans = build_plans(baselines, seed=seed, random_count=random_count, per_label=per_label)

        def one(index: int, plan: CrashPlan) -> PlanResult:
            out = work / "plans" / f"{index:04d}"
            # Realish runs are verified more often: their faults give the verifier more to check.
            every = 2 if plan.profile.broker == "realish" else verify_every
            verify = index % every == 0
            result = execute(plan, out, baselines[plan.profile.name], verify=verify)
            if result.violations and keep_failed is not None:
                shutil.copytree(out, keep_failed / f"{index:04d}", dirs_exist_ok=True)
            shutil.rmtree(out, ignore_errors=True)
            return result

        results = list(pool.map(one, range(len(plans)), plans))
    return SweepReport(results)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Crash livesession runs and check recovery.")
    parser.add_argument("--plans", type=int, default=200, help="random plans per exact profile")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="copy failed plans here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    random_count = {
        name: args.plans if p.exact else args.plans // 4 for name, p in PROFILES.items()
    }
    with scratch_dir(Path(tempfile.gettempdir()) / "livesession-crash") as work:
        report = sweep(
            work,
            seed=args.seed,
            random_count=random_count,
            per_label=dict.fromkeys(PROFILES, 3),
            workers=args.workers,
            keep_failed=args.keep,
        )
    print(report.summary())  # noqa: T201 - a command-line tool reports on stdout
    for violation in _first(report.violations, 40):
        print(violation)  # noqa: T201 - same
    return 1 if report.violations else 0


def _first(items: Iterable[str], n: int) -> list[str]:
    return list(items)[:n]


if __name__ == "__main__":
    sys.exit(main())
