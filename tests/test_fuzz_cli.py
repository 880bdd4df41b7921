"""A fuzz campaign on the command line's arguments and config files (``nox -s fuzz``).

Hypothesis writes what a user gets wrong: every verb's flags with wrong values (negative,
huge, NaN, empty numbers; paths that do not exist, are files, hold a newline, unicode, or
are too long), unknown, repeated and other verbs' flags, mixed into a valid command; and
TOML config files with the documented keys set to wrong types, out-of-range and unicode
values, tables where a scalar goes, unknown and duplicated keys, bad UTF-8, a BOM, CRLF,
an empty file or a directory. Each is run in-process through ``cli.main``, as the other
CLI tests do. The invariant (``_check``): a code the verb documents; on bad input (2)
exactly one line on stderr naming the problem; never a traceback nor the repr of an
internal object; nothing created under ``--out`` (or at ``--output``) and nothing changed
in the run read when the input was refused; a secret-looking value never echoed.

The normal run (and CI) tries ``EXAMPLES`` examples of each test, a few seconds in all;
``nox -s fuzz`` (``LIVESESSION_FUZZ=deep``) tries thousands, and
``LIVESESSION_FUZZ_EXAMPLES=N`` sets the number. What the campaign found is pinned as
plain regression tests in ``test_cli_fuzz_found.py``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livesession.cli import main
from livesession.testing import run_dirs
from livesession.verify import verify_run

DEEP = os.environ.get("LIVESESSION_FUZZ") == "deep"
EXAMPLES = int(os.environ.get("LIVESESSION_FUZZ_EXAMPLES", "0")) or (1500 if DEEP else 15)
"""Examples per test: a handful in the normal run, thousands in ``nox -s fuzz``."""

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # tmp_path is one per test; each example its own dir
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

SECRET = "sk_live_" + "Q7fz9K2mW4pX8vR1tY6uB3nD"
"""A token the secret rules find (a live API key): never echoed, whatever key holds it."""
SECRET_DSN = "postgresql://desk:" + "hunter2-Vq93kLm@127.0.0.1/db"
SECRET_PART = "hunter2-Vq93kLm"
SECRET_AWS = "AKIA" + "Z7Q2XK4M9WPT3RB8"
SECRETS = (SECRET, SECRET_PART, SECRET_AWS)
"""What must never be echoed (the DSN by its password)."""

_ALL_CODES = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
CODES: dict[str, set[int]] = {
    "dryrun": {0, 2, 3, 4},
    "resume": {0, 2, 3, 4},
    "verify": {0, 1, 2},
    "evidence": {0, 1, 2, 3},
    "report": {0, 2},
    "prom": {0, 2},
    "status": {0, 2, 3, 4, 5, 6, 7},
    "list": {0, 2},
    "stop": {0, 2, 3, 4, 8, 9},
    "kill": {0, 2, 3, 8, 9},
    "ack": {0, 2, 3, 8, 9},
    "burnin": {0, 1, 2, 3},
}
"""The exit codes each verb documents (its ``--help``); any verb: 2 for a bad command line."""

_INTERNAL = re.compile(r"Traceback|<[\w.]+ object at 0x|<class '|<livesession\.|<function ")


@dataclass
class Outcome:
    argv: list[str]
    code: int
    out: str
    err: str


def invoke(argv: list[str]) -> Outcome:
    """``livesession ARGV`` in this process; stdout and stderr captured."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # --help, --version (an abbreviation of them too)
            code = exc.code if isinstance(exc.code, int) else 0
    return Outcome(argv, code, out.getvalue(), err.getvalue())


def listing(path: Path) -> list[tuple[str, int]]:
    """Every entry below ``path`` (and whether it is there), with its size."""
    if not os.path.lexists(path):  # a name too long, a file as a directory: not there
        return []
    if not path.is_dir():
        return [(".", path.stat().st_size)]
    return sorted(
        (str(p.relative_to(path)), 0 if p.is_dir() else p.lstat().st_size) for p in path.rglob("*")
    )


def _check(result: Outcome, verb: str) -> None:
    """The invariant of every command the campaign runs."""
    said = f"argv={result.argv!r} code={result.code} stdout={result.out!r} stderr={result.err!r}"
    assert result.code in CODES.get(verb, _ALL_CODES) | {2}, said
    assert not _INTERNAL.search(result.err), said
    assert not _INTERNAL.search(result.out), said
    for secret in SECRETS:
        assert secret not in result.err, said
        assert secret not in result.out, said
    if result.code == 2:
        lines = result.err.splitlines()
        assert len(lines) == 1, said
        assert lines[0].startswith("livesession: error: "), said
        assert len(lines[0]) > len("livesession: error: ") + 5, said
        if "--json" in result.argv:
            json.loads(result.out.splitlines()[-1])  # the one JSON object, with the error


def _verified_and_removed(root: Path) -> None:
    """Every run a command made below ``root`` verifies clean; then ``root`` goes."""
    for run_dir in run_dirs(root):
        violations = verify_run(run_dir, live=None).violations
        assert not violations, (run_dir, violations[:5])
        for path in run_dir.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                for secret in SECRETS:
                    assert secret.encode() not in data, path
    shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def workspace(tmp_path: Path) -> Iterator[Path]:
    """A fresh directory of one example, with a file and a directory in it to point at."""
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    (root / "a_file.txt").write_text("not a directory\n")
    (root / "a_dir").mkdir()
    cwd = Path.cwd()
    os.chdir(root)  # a relative path, and the default out/runs, land here
    try:
        yield root
    finally:
        os.chdir(cwd)
        _verified_and_removed(root)


# --- values -------------------------------------------------------------------------------

BAD_NUMBERS = st.sampled_from(
    [
        "-1",
        "-0",
        "0",
        "",
        " ",
        " 5",
        "5 ",
        "nan",
        "NaN",
        "inf",
        "-inf",
        "Infinity",
        "1e3",
        "1.5",
        "0x10",
        "1_0",
        "\uff11\uff12",  # fullwidth digits
        "\u0661",  # Arabic-Indic one
        "12abc",
        "9" * 40,
        "-" + "9" * 40,
        "99999999999",
        SECRET_AWS,
        "+5",
        "--5",
        "5\n",
        "1e400",
        SECRET,
    ]
)
SMALL_STEPS = st.integers(min_value=1, max_value=12).map(str)
WORDS = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=40,
)
"""Any text a terminal can pass (no NUL: argv cannot hold one)."""
ODD_TEXT = st.one_of(
    WORDS,
    st.sampled_from(
        [
            "",
            " ",
            "\n",
            "a\nb",
            "caf\u00e9",
            "\u202eevil",
            "x" * 300,
            "../escape",
            ".hidden",
            "-",
            "--",
            "bad\udcffname",  # an argv byte that is not UTF-8 (surrogateescape)
            SECRET,
            SECRET_DSN,
            SECRET_AWS,
            "api_key=" + SECRET_PART,
        ]
    ),
)


def path_values(root: Path) -> st.SearchStrategy[str]:
    """Paths a user gets wrong (and a few right ones), around the example's workspace."""
    return st.one_of(
        st.sampled_from(
            [
                str(root / "nowhere"),
                str(root / "nowhere" / "deeper"),
                str(root / "a_file.txt"),
                str(root / "a_file.txt" / "under_a_file"),
                str(root / "a_dir"),
                str(root / "line\nbreak"),
                str(root / "caf\u00e9-\u00fc\u4e2d"),
                str(root / ("x" * 300)),
                str(root / "/".join(["d"] * 200)),
                str(root / "bad\udcffname"),
                str(root / SECRET),
                str(root / SECRET_AWS),
                SECRET_DSN,
                f"{root}/{SECRET_DSN}",
                "",
                " ",
                "/dev/null",
                "/dev/zero",
                "~nosuchuser/x",
                "relative/dir",
                "-",
            ]
        ),
        # Below the workspace, whatever the text (no "..": it would climb out of it).
        WORDS.filter(lambda t: ".." not in t).map(lambda t: f"{root}/{t}"),
    )


# --- argv ---------------------------------------------------------------------------------

REFS = st.sampled_from(
    [
        "nosuch.module:make",
        "livesession:nosuch",
        "livesession:__version__",
        "json:dumps",
        "a:b:c",
        ":make",
        "module:",
        "1bad.module:x",
        "pkg..mod:x",
        "mock",
        "realish",
        "random_walk",
        "venue",
        "csv:",
        "parquet:",
        "csv:/nonexistent/x.csv",
        "ccxt:",
        "ccxt:nosuchexchange",
        "ccxt:../x",
        SECRET,
        SECRET_DSN,
        SECRET_AWS,
        f"csv:{SECRET_DSN}",
        f"parquet:/data/{SECRET}.parquet",
        f"ccxt:{SECRET_AWS}",
        f"desk.{SECRET}:make",
    ]
)

FLAG_NAMES = [
    "--config",
    "-c",
    "--run-id",
    "--seed",
    "--steps",
    "--clock",
    "--out",
    "--broker",
    "--strategy",
    "--feed",
    "--symbol",
    "--idempotency-backend",
    "--durability",
    "--store",
    "--lease",
    "--print-config",
    "--log-level",
    "--quiet",
    "-q",
    "--json",
    "--manifest",
    "--output",
    "--verify",
    "--timeout",
    "--min-signals",
    "--min-decisions",
    "--min-oco",
    "--max-flatten-s",
    "--nosuch",
    "--steps=",
    "--seed=-1",
    "--ste",
    "--s",
    "-x",
    "-",
    "--",
]
"""Every verb's flags (any of them is another verb's), abbreviations and unknown ones."""


def flag_values(draw: Any, flag: str, root: Path, choices: tuple[str, ...] = ()) -> list[str]:
    """``flag`` and a value for it: often wrong, sometimes right."""
    numbers = {
        "--seed",
        "--steps",
        "--timeout",
        "--min-signals",
        "--min-decisions",
        "--min-oco",
        "--max-flatten-s",
    }
    paths = {"--config", "-c", "--out", "--output", "--manifest"}
    if flag in numbers:
        good = SMALL_STEPS if flag != "--timeout" else st.just("1")
        value = draw(st.one_of(good, BAD_NUMBERS))
    elif flag in paths:
        value = draw(path_values(root))
    elif flag in {"--broker", "--strategy", "--feed"}:
        value = draw(st.one_of(REFS, ODD_TEXT))
    elif choices:
        value = draw(st.one_of(st.sampled_from(choices), ODD_TEXT))
    else:
        value = draw(ODD_TEXT)
    return draw(st.sampled_from([[flag, value], [f"{flag}={value}"], [flag]]))


CHOICES = {
    "--clock": ("fixed", "sim", "system"),
    "--idempotency-backend": ("memory", "jsonl", "sqlite"),
    "--durability": ("none", "step", "event"),
    "--store": ("local", "postgres"),
    "--log-level": ("debug", "info", "warning", "error"),
}


@st.composite
def mutated(draw: Any, base: list[str], root: Path) -> list[str]:
    """``base`` (a valid command) with wrong, unknown, repeated or other verbs' flags."""
    argv = list(base)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        how = draw(st.sampled_from(["flag", "flag", "flag", "repeat", "positional", "drop"]))
        if how == "flag":
            flag = draw(st.sampled_from(FLAG_NAMES))
            extra = flag_values(draw, flag, root, CHOICES.get(flag, ()))
        elif how == "repeat" and len(argv) > 1:
            at = draw(st.integers(min_value=1, max_value=len(argv) - 1))
            extra = argv[at : at + 2]
        elif how == "positional":
            extra = [draw(path_values(root))]
        else:
            if len(argv) > 1:
                del argv[draw(st.integers(min_value=1, max_value=len(argv) - 1))]
            continue
        at = draw(st.integers(min_value=1, max_value=len(argv)))
        argv[at:at] = extra
    return argv


@pytest.fixture(autouse=True)
def _no_server_and_no_alerts(monkeypatch):
    """No PostgreSQL DSN (``--store postgres`` is refused, not run) and no alert webhook."""
    for name in ("LIVESESSION_PG_DSN", "LIVESESSION_ALERT_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """One finished, verified run the run-directory verbs read (copied before any writes)."""
    out = tmp_path_factory.mktemp("finished")
    result = invoke(["dryrun", "--out", str(out), "--run-id", "r", "--steps", "40", "-q"])
    assert result.code == 0, result
    assert not verify_run(out / "r", live=None).violations
    return out / "r"


def _outputs(argv: list[str]) -> list[Path]:
    """The paths the command line names after ``--out``/``--output`` (either spelling)."""
    found = []
    for at, word in enumerate(argv):
        for flag in ("--out", "--output"):
            if word == flag and at + 1 < len(argv):
                found.append(Path(argv[at + 1]))
            elif word.startswith(f"{flag}="):
                found.append(Path(word.partition("=")[2]))
    return [path for path in found if str(path) not in ("", ".")]


def _run_refused_cleanly(argv: list[str], verb: str, root: Path, watched: list[Path]) -> Outcome:
    """Run ``argv``; when refused (2), nothing appeared at an output and ``watched`` is as it was."""
    outputs = [p for p in _outputs(argv) if _inside(p, root)]
    before = {p: listing(p) for p in (*outputs, *watched)}
    existed = {p: os.path.lexists(p) for p in outputs}
    result = invoke(argv)
    _check(result, verb)
    if result.code == 2:
        for path, was in before.items():
            assert listing(path) == was, (result, path)
        for path, there in existed.items():
            assert os.path.lexists(path) == there, (result, path)
    return result


def _inside(path: Path, root: Path) -> bool:
    try:
        return path.absolute().is_relative_to(root)  # no "..": the campaign writes none
    except (OSError, ValueError):
        return False


# --- the campaign: argv -------------------------------------------------------------------


@FUZZ
@given(data=st.data())
def test_dryrun_argv(tmp_path, data):
    """``dryrun`` with a valid command line made wrong in one to four ways."""
    with workspace(tmp_path) as root:
        out = root / "out"
        base = ["dryrun", "--out", str(out), "--steps", "5", "-q"]
        argv = data.draw(mutated(base, root), label="argv")
        _run_refused_cleanly(argv, "dryrun", root, [out, root / "a_dir"])


RUN_VERBS = ["verify", "evidence", "report", "prom", "status", "stop", "kill", "ack", "resume"]


@FUZZ
@given(data=st.data())
def test_run_directory_verbs_argv(tmp_path, finished_run, data):
    """The verbs that read one run, on a copy of a finished run (or a wrong path)."""
    with workspace(tmp_path) as root:
        run = root / "run"
        shutil.copytree(finished_run, run)
        verb = data.draw(st.sampled_from(RUN_VERBS), label="verb")
        target = data.draw(st.one_of(st.just(str(run)), path_values(root)), label="run_dir")
        base = [verb, target]
        if verb in ("stop", "kill", "ack"):
            base += ["--timeout", "1"]
        argv = data.draw(mutated(base, root), label="argv")
        _run_refused_cleanly(argv, verb, root, [run, root / "a_dir"])


@FUZZ
@given(data=st.data())
def test_list_and_burnin_argv(tmp_path, finished_run, data):
    """``list`` a directory of runs and ``burnin`` runs (never ``--drill``: wall time)."""
    with workspace(tmp_path) as root:
        runs = root / "runs"
        runs.mkdir()
        shutil.copytree(finished_run, runs / "r")
        verb = data.draw(st.sampled_from(["list", "burnin"]), label="verb")
        target = data.draw(
            st.one_of(st.just(str(runs if verb == "list" else runs / "r")), path_values(root))
        )
        argv = data.draw(mutated([verb, target], root), label="argv")
        if "--drill" in argv:
            argv.remove("--drill")
        _run_refused_cleanly(argv, verb, root, [runs, root / "a_dir"])


@FUZZ
@given(argv=st.lists(st.one_of(st.sampled_from([*CODES, *FLAG_NAMES]), ODD_TEXT), max_size=5))
def test_anything_at_all(tmp_path, argv):
    """Any words at all (in a workspace: a relative path lands there); ``dryrun`` is left to
    ``test_dryrun_argv``, which keeps its runs short, and ``--help``/``--version`` print."""
    if "dryrun" in argv or any(word.startswith(("-h", "--h", "--v")) for word in argv):
        return
    with workspace(tmp_path) as root:
        verb = next((word for word in argv if word in CODES), "")
        _run_refused_cleanly(argv, verb, root, [root / "a_dir"])


# --- the campaign: config files -----------------------------------------------------------

TOP_KEYS = {
    "run_id": "str",
    "strategy_id": "str",
    "account": "str",
    "seed": "int",
    "steps": "steps",
    "max_steps": "int",
    "step_interval_ms": "int",
    "start_time": "time",
    "clock_mode": "str",
    "durability": "str",
    "checkpoint_every": "int",
    "max_sink_retries": "int",
    "stop_max_polls": "small",
    "reconcile_grace_ms": "int",
    "broker_max_consecutive_failures": "int",
    "broker_silence_ms": "int",
    "lease_ttl_ms": "int",
    "enabled": "bool",
    "feed": "ref",
    "feed_params": "table",
    "symbol": "str",
    "allowlist": "list",
    "initial_price": "decimal",
    "volatility_bps": "int",
    "price_tick": "decimal",
    "qty_lot": "decimal",
    "initial_cash": "decimal",
    "feed_sha256": "str",
    "feed_bytes": "int",
    "strategy_factory": "ref",
    "strategy_params": "table",
    "broker": "ref",
    "broker_params": "table",
    "rails": "list",
    "rails_params": "table",
}
TABLES = {
    "strategy": {"fast": "int", "slow": "int", "order_qty": "decimal", "protect_pct": "decimal"},
    "fill_model": {
        "latency_ms": "small",
        "partial_fill_ratio": "decimal",
        "reject_rate": "decimal",
        "slippage_bps": "int",
    },
    "realish": {
        "transient_rate": "decimal",
        "timeout_rate": "decimal",
        "duplicate_ack_rate": "decimal",
        "late_fill_rate": "decimal",
        "late_fill_ms": "int",
        "latency_ms": "small",
    },
    "risk": {
        "max_order_qty": "decimal",
        "max_order_notional": "decimal",
        "price_collar_pct": "decimal",
        "per_trade_risk_pct": "decimal",
        "stop_distance_pct": "decimal",
        "portfolio_heat_pct": "decimal",
        "daily_loss_pct": "decimal",
        "max_orders_per_sec": "int",
        "max_executions": "int",
    },
    "alerts": {"webhook_url": "str", "timeout_ms": "int", "retries": "int", "queue_size": "int"},
}
"""The documented keys (docs/config.md), each with the kind of value it takes."""


class Raw(str):
    """A TOML value written as it is (``nan``, ``inf``, an inline table)."""

    __slots__ = ()


RIGHT: dict[str, st.SearchStrategy[Any]] = {
    "int": st.integers(min_value=0, max_value=1000),
    "small": st.integers(min_value=1, max_value=20),
    "steps": st.integers(min_value=1, max_value=8),
    "str": st.sampled_from(["demo", "x-1", "BTC/USDT", "sim", "step", "mock"]),
    "time": st.sampled_from(["2026-01-01T00:00:00Z", "2030-06-01T12:00:00.5Z"]),
    "bool": st.just(False),
    "ref": REFS,
    "decimal": st.sampled_from(["0.01", "1", "0.5", "42000.00", "0"]),
    "list": st.just(["BTC/USDT"]),
    "table": st.just({}),
}
WRONG = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([-1, 0, 2**63 - 1, 2**63, -(2**63) - 1, 10**30]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([Raw("nan"), Raw("inf"), Raw("-inf"), Raw("+nan"), 5.0, -0.0, 1e308]),
    st.booleans(),
    WORDS,
    st.sampled_from(["", "-0", "1_0", "1E+30", "1E-30", "\uff15", "0.010", "5", "true"]),
    st.sampled_from(
        [SECRET, SECRET_DSN, SECRET_AWS, "BTC/" + SECRET_AWS, "http://127.0.0.1:9/hooks/" + SECRET]
    ),
    st.lists(st.one_of(st.integers(-5, 5), WORDS, st.just(SECRET)), max_size=3),
    st.dictionaries(
        st.sampled_from(["a", "api_key", "nested", "steps", "secret"]),
        st.one_of(st.integers(-5, 5), WORDS, st.just(SECRET), st.just(Raw("nan"))),
        max_size=3,
    ),
    st.sampled_from(
        [Raw("1979-05-27T07:32:00Z"), Raw("07:32:00"), Raw("1979-05-27"), Raw("[[1], [[2]]]")]
    ),
)


def _toml_float(value: float) -> str:
    if value != value:  # noqa: PLR0124 - NaN
        return "nan"
    return {float("inf"): "inf", float("-inf"): "-inf"}.get(value, repr(value))


def toml_value(value: Any) -> str:
    """``value`` as TOML (a simple writer: the test makes its own documents)."""
    if isinstance(value, Raw):
        written = str(value)
    elif isinstance(value, bool):
        written = "true" if value else "false"
    elif isinstance(value, int):
        written = str(value)
    elif isinstance(value, float):
        written = _toml_float(value)
    elif isinstance(value, str):
        written = json.dumps(value)  # a basic string: JSON's escapes are TOML's (\uXXXX)
    elif isinstance(value, list):
        written = "[" + ", ".join(toml_value(v) for v in value) + "]"
    else:
        pairs = (f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items())
        written = "{" + ", ".join(pairs) + "}"
    return written


@st.composite
def config_documents(draw: Any) -> bytes:
    """A config file: documented keys with right and wrong values, then byte-level damage."""
    lines: list[str] = []
    for key, kind in TOP_KEYS.items():
        pick = draw(st.sampled_from(["skip"] * 6 + ["right", "wrong"]))
        if pick == "skip":
            continue
        value = draw(RIGHT[kind] if pick == "right" else WRONG)
        lines.append(f"{key} = {toml_value(value)}")
    if draw(st.booleans()):
        lines.append(f"{draw(st.sampled_from(['stpes', 'api_key', 'Steps', 'nosuch']))} = 1")
    for table, keys in TABLES.items():
        if draw(st.integers(0, 3)):
            continue
        lines.append(f"[{table}]")
        for key, kind in keys.items():
            pick = draw(st.sampled_from(["skip", "skip", "right", "wrong"]))
            if pick != "skip":
                value = draw(RIGHT[kind] if pick == "right" else WRONG)
                lines.append(f"{key} = {toml_value(value)}")
        if draw(st.integers(0, 4)) == 0:
            lines.append(f"{draw(st.sampled_from(['steps', 'seed', 'api_key', 'zzz']))} = 3")
    if lines and draw(st.integers(0, 5)) == 0:  # a key (or header) given twice
        lines.append(draw(st.sampled_from(lines)))
    text = "\n".join(lines) + ("\n" if draw(st.booleans()) else "")
    return draw(damaged(text))


@st.composite
def damaged(draw: Any, text: str) -> bytes:
    """``text``'s bytes, about half the time with a BOM, CRLF, a Latin-1 byte, cut, or UTF-16."""
    raw = text.encode("utf-8", "surrogatepass")
    damage = draw(
        st.sampled_from(["none"] * 5 + ["bom", "crlf", "latin1", "cut", "empty", "utf16"])
    )
    if damage == "bom":
        raw = b"\xef\xbb\xbf" + raw
    elif damage == "crlf":
        raw = raw.replace(b"\n", b"\r\n")
    elif damage == "latin1":
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + b"\xe9" + raw[at:]
    elif damage == "cut" and raw:
        raw = raw[: draw(st.integers(0, len(raw) - 1))]
    elif damage == "empty":
        raw = b""
    elif damage == "utf16":
        raw = b"\xff\xfe" + text.encode("utf-16-le", "surrogatepass")
    return raw


@FUZZ
@given(document=config_documents(), data=st.data())
def test_config_files(tmp_path, document, data):
    """``dryrun --config FILE`` on config files users get wrong (a few steps, or
    ``--print-config``); the file also as a directory, or missing."""
    with workspace(tmp_path) as root:
        out = root / "out"
        config = root / "desk.toml"
        where = data.draw(st.sampled_from(["file"] * 8 + ["dir", "missing"]), label="where")
        if where == "file":
            config.write_bytes(document)
        elif where == "dir":
            config.mkdir()
        extra = data.draw(
            st.sampled_from(
                [[], ["--print-config"], ["--print-config", "--json"], ["--json"], ["--steps", "3"]]
            ),
            label="flags",
        )
        steps = [] if "--steps" in extra or "--print-config" in extra else ["--steps", "4"]
        argv = ["dryrun", "--config", str(config), "--out", str(out), "-q", *steps, *extra]
        result = _run_refused_cleanly(argv, "dryrun", root, [out])
        if result.code == 2:
            assert "desk.toml" in result.err or "config" in result.err, result
