"""Developer sessions: tests, lint, typecheck, a smoke dry run, determinism, deeper campaigns."""

from __future__ import annotations

import os

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = "3.11"


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole test suite (the same command as the README and .ci/run)."""
    session.install("-e", ".[tests]")
    session.run("python", "-m", "pytest", "-n", "auto", "--dist", "loadgroup", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff")
    session.run("ruff", "check", "src", "tests", "bench", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "tests", "bench", "noxfile.py")


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
def crash(session: nox.Session) -> None:
    """The crash-and-resume campaign (more kills than the normal run)."""
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
