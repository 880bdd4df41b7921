"""Developer sessions: tests, lint, typecheck, a smoke dry run, determinism, deeper campaigns."""

from __future__ import annotations

import os
import shutil
import tempfile
import tomllib
from pathlib import Path

import nox
from packaging.requirements import Requirement

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = "3.11"


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole test suite (the same command as the README and .ci/run)."""
    session.install("-e", ".[tests]")
    session.run("python", "-m", "pytest", "-n", "auto", "--dist", "loadgroup", *session.posargs)


NEWER_PYTHONS = ["3.12", "3.13"]


@nox.session(python=NEWER_PYTHONS)
def tests_newer(session: nox.Session) -> None:
    """The whole test suite on a newer Python: ``nox -s tests_newer-3.13`` (or ``-3.12``).

    CI (``.ci/run``) runs 3.11 only. nox finds each interpreter as ``python3.13`` on PATH:
    with pyenv, ``PYENV_VERSION=3.11.7:3.12.1:3.13.0`` (or ``pyenv shell``) makes them found.
    """
    session.install("-e", ".[tests]")
    session.run("python", "-m", "pytest", "-n", "auto", "--dist", "loadgroup", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff")
    paths = ("src", "tests", "bench", "noxfile.py", "examples", "tools")
    session.run("ruff", "check", *paths)
    session.run("ruff", "format", "--check", *paths)


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict on src."""
    session.install("-e", ".[tests]", "mypy")
    session.run("mypy")


@nox.session(python=PYTHON)
def dryrun(session: nox.Session) -> None:
    """A smoke run of the CLI on the built-in defaults, then verify it."""
    session.install("-e", ".")
    tmp = session.create_tmp()
    # nox keeps the session's tmp between invocations: the last smoke run would be refused.
    shutil.rmtree(Path(tmp) / "smoke", ignore_errors=True)
    session.run("livesession", "dryrun", "--out", tmp, "--run-id", "smoke")
    session.run("livesession", "verify", f"{tmp}/smoke")


@nox.session(python=PYTHON)
def determinism(session: nox.Session) -> None:
    """Byte-identical artifacts across processes and hash seeds."""
    session.install("-e", ".[tests]")
    session.run("python", "-m", "pytest", "tests/test_determinism.py", "-v")


@nox.session(python=PYTHON)
def failure_matrix(session: nox.Session) -> None:
    """The property-based failure matrix with the deep hypothesis profile."""
    session.install("-e", ".[tests]")
    session.run(
        "python",
        "-m",
        "pytest",
        "tests/test_failure_matrix.py",
        "-s",
        env={"HYPOTHESIS_PROFILE": "deep"},
    )


@nox.session(python=PYTHON)
def tamper(session: nox.Session) -> None:
    """The tamper campaign: 3,000 random edits of finished runs, each read by verify, status,
    report, evidence and resume (tests/test_tamper.py; CI's command runs 12 of them)."""
    session.install("-e", ".[tests]")
    session.run(
        "python",
        "-m",
        "pytest",
        "tests/test_tamper.py",
        "-s",
        *session.posargs,
        env={"LIVESESSION_TAMPER_EXAMPLES": os.environ.get("LIVESESSION_TAMPER_EXAMPLES", "3000")},
    )


@nox.session(python=PYTHON)
def campaigns(session: nox.Session) -> None:
    """The long sweeps whole: CI runs a representative part of each (tests/_helpers.campaign)."""
    session.install("-e", ".[tests]")
    session.run(
        "python",
        "-m",
        "pytest",
        "tests/test_run_creation_refused.py",
        "tests/test_stop_durability.py",
        "tests/test_crash_recovery.py",
        "tests/test_crash_loop.py",
        "tests/test_stores.py",
        "tests/test_postgres.py",
        *session.posargs,
        env={"LIVESESSION_CAMPAIGN": "deep"},
    )


@nox.session(python=PYTHON)
def fuzz(session: nox.Session) -> None:
    """The command-line fuzz campaign: wrong argv and config files through ``cli.main``.

    Thousands of examples a test (CI runs a few of each); ``nox -s fuzz -- 5000`` sets how many.
    """
    session.install("-e", ".[tests]")
    env = {"LIVESESSION_FUZZ": "deep", "HYPOTHESIS_PROFILE": "deep"}
    if session.posargs:
        env["LIVESESSION_FUZZ_EXAMPLES"] = session.posargs[0]
    session.run(
        "python",
        "-m",
        "pytest",
        "tests/test_fuzz_cli.py",
        "tests/test_cli_fuzz_found.py",
        env=env,
    )


@nox.session(python=PYTHON)
def verbs(session: nox.Session) -> None:
    """The operator-verbs state machine at depth: verbs from any thread, crashes, resumes.

    400 examples of 25 rules (CI runs 6 of 12); ``nox -s verbs -- 2000`` sets how many.
    """
    session.install("-e", ".[tests]")
    # The deep profile draws afresh at each run (the suite's ci profile derandomizes).
    env = {"LIVESESSION_VERBS": "deep", "HYPOTHESIS_PROFILE": "deep"}
    if session.posargs:
        env["LIVESESSION_VERBS_EXAMPLES"] = session.posargs[0]
    session.run("python", "-m", "pytest", "tests/test_verbs_fuzz.py", "-s", env=env)


@nox.session(python=PYTHON)
def crash(session: nox.Session) -> None:
    """The crash-and-resume campaign: more kills than the normal run (five times its random
    plans, every crash point three times on each profile: tests/test_crash_recovery.py)."""
    session.install("-e", ".[tests]")
    session.run(
        "python",
        "-m",
        "pytest",
        "tests/test_crash_recovery.py",
        "-s",
        env={"LIVESESSION_CRASH_CAMPAIGN": "deep"},
    )


@nox.session(python=PYTHON)
def soak(session: nox.Session) -> None:
    """Random-moment kills of the CLI and resumes, compared with uninterrupted runs
    (bench/soak_kills.py): one process at a time; ``nox -s soak -- --minutes 60 --seed 2``."""
    session.install("-e", ".[tests]")
    session.run("python", "bench/soak_kills.py", *(session.posargs or ["--minutes", "10"]))


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Every benchmark under bench/, each printing its figure, baseline and ratio.

    ``nox -s bench -- cli tools`` runs only the scripts whose names contain a word given.
    """
    session.install("-e", ".[tests]")
    for script in sorted(__import__("pathlib").Path("bench").glob("bench_*.py")):
        if session.posargs and not any(word in script.stem for word in session.posargs):
            continue
        if script.name == "bench_postgres_store.py" and not os.environ.get("LIVESESSION_PG_DSN"):
            session.log(
                f"skipping {script.name}: no server; run "
                '`eval "$(bash .ci/setup_postgres.sh)"` first to include it'
            )
            continue
        session.run("python", str(script))


_USER_SCRIPT = """\
from livesession import DryrunConfig, LiveSessionOrchestrator, MemoryLineSink, MemoryMetricsSink
from livesession import verify_run
from livesession.testing import FaultBroker

config = DryrunConfig(run_id="typed", strategy_id="sma_demo", seed=7, steps=20)
sinks = [MemoryLineSink() for _ in range(3)]
session = LiveSessionOrchestrator(
    config,
    event_sink=sinks[0],
    state_sink=sinks[1],
    audit_sink=sinks[2],
    metrics_sink=MemoryMetricsSink(),
)
if session.preflight():
    session.activate()
    session.run_n_steps(20)
session.close()
ok: bool = verify_run("out/runs/smoke").ok
broker: FaultBroker = FaultBroker(latency_ns=0)
"""


def _lowest_pins(extras: tuple[str, ...] = ("testing",)) -> list[str]:
    """Each dependency of the package and of the extras named pinned to the lowest version
    pyproject allows (``==`` its ``>=`` bound)."""
    project = tomllib.loads(Path("pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins: dict[str, str] = {}  # one pin a name: jsonschema is in several
    required = [*project["dependencies"]]
    for extra in extras:
        required += project["optional-dependencies"][extra]
    for requirement in map(Requirement, required):
        (floor,) = (s.version for s in requirement.specifier if s.operator == ">=")
        pins[requirement.name] = f"{requirement.name}=={floor}"
    return list(pins.values())


def _testing_example() -> str:
    """The test file docs/testing.md shows a desk writing for its strategy."""
    text = Path("docs/testing.md").read_text(encoding="utf-8")
    begin, end = "<!-- BEGIN TESTING EXAMPLE -->\n```python\n", "```\n<!-- END TESTING EXAMPLE -->"
    return text[text.index(begin) + len(begin) : text.index(end)]


@nox.session(python=PYTHON)
@nox.parametrize("artifact", ["wheel", "sdist", "lowest"])
def installed(session: nox.Session, artifact: str) -> None:
    """The package as a user gets it: built, installed alone in a fresh environment outside
    the checkout, and run from a directory with no source tree (no extras installed).

    ``lowest`` installs the wheel with its ``testing`` extra, each dependency at the lowest
    version pyproject allows, and also runs the test file docs/testing.md shows (on a copy
    of ``examples/mydesk``): the testing kit at the oldest hypothesis and pytest it allows.
    """
    # Not session.create_tmp(): that is under .nox/ in the checkout.
    tmp = Path(tempfile.mkdtemp(prefix=f"livesession-{artifact}-")).resolve()
    dist, env, home = tmp / "dist", tmp / "user", tmp / "home"
    home.mkdir()
    pins = _lowest_pins() if artifact == "lowest" else []
    session.install("build")
    kind = "sdist" if artifact == "sdist" else "wheel"
    session.run("python", "-m", "build", f"--{kind}", "--outdir", str(dist))
    (built,) = dist.iterdir()
    session.run("python", "-m", "venv", str(env))
    bin_ = env / "bin"
    wanted = f"{built}[testing]" if artifact == "lowest" else str(built)
    session.run(str(bin_ / "pip"), "install", "-q", wanted, *pins, "mypy", external=True)
    if artifact == "lowest":
        shutil.copytree(Path("examples/mydesk"), home / "mydesk")
        (home / "tests").mkdir()
        (home / "tests" / "test_breakout.py").write_text(_testing_example(), encoding="utf-8")
    session.chdir(home)

    def user(*args: str, code: int = 0) -> str:
        path = f"{bin_}{os.pathsep}{os.environ.get('PATH', '')}"
        return session.run(
            str(bin_ / args[0]),
            *args[1:],
            external=True,
            silent=True,
            success_codes=[code],
            env={"PATH": path},
        )

    user("livesession", "--version")
    user("python", "-m", "livesession", "--version")
    for verb in ("dryrun", "resume", "verify", "evidence", "report", "prom", "stop", "kill"):
        user("livesession", verb, "--help")
    for verb in ("ack", "status", "list", "burnin"):
        user("livesession", verb, "--help")
    user("livesession", "dryrun", "--print-config")
    user("livesession", "dryrun", "--run-id", "smoke", "--steps", "200", "-q")
    for verb in ("verify", "evidence", "report", "status"):
        user("livesession", verb, "out/runs/smoke")
    user("livesession", "list", "out/runs")
    for needs, extra in (
        (("prom", "out/runs/smoke"), "observability"),
        (("dryrun", "--broker", "ccxt:binance"), "ccxt"),
        (("dryrun", "--store", "postgres"), "postgres"),
    ):
        said = user("livesession", *needs, code=2)
        if f"pip install 'livesession[{extra}]'" not in said or "Traceback" in said:
            session.error(f"livesession {' '.join(needs)} did not name the {extra} extra: {said}")
    (home / "user_script.py").write_text(_USER_SCRIPT, encoding="utf-8")
    user("mypy", "--strict", "user_script.py")
    if artifact == "lowest":
        user("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests")
    session.chdir(session.invoked_from)
    shutil.rmtree(tmp)  # kept when a step failed, to look at


# The extras a desk may install, each dependency at its floor (``dev`` only adds tools).
MINIMUM_EXTRAS = ("ccxt", "postgres", "observability", "parquet", "testing", "tests")
MINIMUM_TESTS = (
    "tests/test_session_lifecycle.py",
    "tests/test_orchestrator.py",
    "tests/test_lifecycle.py",
    "tests/test_cli.py",
    "tests/test_ccxt_cli.py",
    "tests/test_verify.py",
    "tests/test_evidence.py",
    "tests/test_report.py",
    "tests/test_pinned_bytes.py",
    "tests/test_artifacts_doc.py",
    "tests/test_stores.py",
    "tests/test_sqlite_store.py",
    "tests/test_jsonl_store.py",
    "tests/test_postgres.py",
    "tests/test_datafile.py",
    "tests/test_feeds.py",
    "tests/test_prom.py",
    "tests/test_testing_kit.py",  # the kit at the oldest hypothesis and pytest
)


@nox.session(python=PYTHON)
def minimums(session: nox.Session) -> None:
    """The package with every dependency at the lowest version pyproject allows, extras too.

    Installs ``.[tests]`` under a constraints file of the ``>=`` bounds, makes the README's
    dry run and its ``verify``, ``evidence`` and ``report`` outside the checkout, then runs
    the tests of the session, the CLI, the artifacts, the stores and the testing kit
    (``nox -s minimums -- tests/test_x.py`` runs others). The PostgreSQL tests skip without
    ``LIVESESSION_PG_DSN``.
    """
    tmp = Path(tempfile.mkdtemp(prefix="livesession-minimums-")).resolve()
    constraints = tmp / "constraints.txt"
    constraints.write_text("\n".join(_lowest_pins(MINIMUM_EXTRAS)) + "\n", encoding="utf-8")
    session.install("-c", str(constraints), "-e", ".[tests]")
    session.run("python", "-m", "pip", "check")
    here = Path.cwd()
    session.chdir(tmp)
    session.run("livesession", "dryrun", "-q")
    for verb in ("verify", "evidence", "report"):
        session.run("livesession", verb, "out/runs/demo-001")
    session.chdir(here)
    tests = session.posargs or MINIMUM_TESTS
    session.run("python", "-m", "pytest", "-n", "2", "-q", "-p", "no:cacheprovider", *tests)
    shutil.rmtree(tmp)  # kept when a step failed, to look at
