"""The determinism rules of the artifact contract, checked by the clean-room verifier
(tests/cleanroom/verifier.py) on runs of the CLI, and the verifier itself shown to fail
on runs changed after the fact, so that its passes over the corpus (tests/test_cleanroom.py)
mean something.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from cleanroom import corpus
from cleanroom.corpus import check
from cleanroom.reseal import dumps, edit, read, reseal, with_event_id, write
from cleanroom.verifier import (
    AUDIT,
    CONTRACT_FILES,
    EVENTS,
    METRICS,
    SNAPSHOTS,
    compare_resumed,
    differing_files,
    verify_run,
)
from livesession.cli import main

# --- determinism ------------------------------------------------------------------------


def test_the_same_config_twice_gives_the_same_bytes(tmp_path: Path) -> None:
    """Two processes, two directories, other PYTHONHASHSEEDs: the four files the same."""
    runs = []
    for seed in ("1", "2"):
        base = tmp_path / seed
        base.mkdir()
        toml = 'broker = "realish"\nseed = 4\n[strategy]\nfast = 2\nslow = 5\n'
        config = base / "same.toml"
        config.write_text(toml, encoding="utf-8")
        args = ["dryrun", "--out", str(base / "runs"), "--run-id", "same", "-q"]
        assert (
            corpus.cli_child(
                [*args, "--config", str(config), "--steps", "300"], PYTHONHASHSEED=seed
            )
            == 0
        )
        runs.append(base / "runs" / "same")
    assert differing_files(*runs) == []
    assert verify_run(runs[0]).errors == []


@pytest.fixture(scope="module", name="reference")
def _reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The crash paths' config run straight through."""
    made = corpus.uninterrupted(tmp_path_factory.mktemp("reference"))
    check(made)
    return made.run_dir


@pytest.mark.parametrize(
    ("maker", "resumes"), [(corpus.crashed_resumed_twice, 2), (corpus.torn_seal_resumed, 1)]
)
def test_a_resumed_run_keeps_the_uninterrupted_bytes(reference, tmp_path, maker, resumes):
    """Killed mid-run (and its first resume killed too), or half-way through writing the
    seal's record: resumed, it meets the contract and keeps the uninterrupted run's bytes."""
    made = maker(tmp_path)
    check(made)
    assert compare_resumed(reference, made.run_dir, resumes) == []


# --- the verifier fails where it must -----------------------------------------------------


def _rewrite_line(path: Path, index: int, change: Callable[[dict], dict]) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    obj = change(orjson.loads(lines[index]))
    lines[index] = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS) + b"\n"
    path.write_bytes(b"".join(lines))


def _set(key: str, value: object) -> Callable[[dict], dict]:
    return lambda obj: {**obj, key: value}


TAMPERS: dict[str, tuple[Callable[[Path], None], str]] = {
    "an event's payload": (
        lambda run: _rewrite_line(run / EVENTS, 5, _set("payload", {"x": 1})),
        "stable_id gives",
    ),
    "a float": (lambda run: _rewrite_line(run / EVENTS, 3, _set("ts_sim", 1.5)), "a float"),
    "spaces": (
        lambda run: (run / EVENTS).write_bytes(
            (run / EVENTS).read_bytes().replace(b'"seq":1,', b'"seq": 1,', 1)
        ),
        "no-spaces form",
    ),
    "an event dropped": (
        lambda run: (run / EVENTS).write_bytes(
            b"".join((run / EVENTS).read_bytes().splitlines(keepends=True)[1:])
        ),
        "seq 2, expected 1",
    ),
    "a status": (
        lambda run: _rewrite_line(run / SNAPSHOTS, 1, _set("status", "COMPLETED")),
        "expected RUNNING",
    ),
    "an audit payload": (
        lambda run: _rewrite_line(run / AUDIT, 0, _set("payload", {})),
        "chain gives",
    ),
    "a torn audit tail": (
        lambda run: (run / AUDIT).write_bytes((run / AUDIT).read_bytes() + b'{"code":'),
        "torn line",
    ),
    "a client order id": (
        lambda run: _rewrite_line(
            run / EVENTS,
            next(
                i
                for i, line in enumerate((run / EVENTS).read_bytes().splitlines())
                if b"client_order_id" in line
            ),
            lambda obj: {**obj, "payload": {**obj["payload"], "client_order_id": "ls-1"}},
        ),
        "is not 1-32 of",
    ),
    "metrics' count": (
        lambda run: (run / METRICS).write_bytes(
            (run / METRICS).read_bytes().replace(b'"fills": ', b'"fills": 1', 1)
        ),
        "metrics.json: fills 1",
    ),
    "metrics' audit head": (
        lambda run: (run / METRICS).write_bytes(
            (run / METRICS).read_bytes().replace(b'"audit_head": "', b'"audit_head": "0', 1)
        ),
        "audit_head",
    ),
}


@pytest.fixture(scope="module", name="sealed")
def _sealed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("sealed")
    assert corpus.cli_dryrun(base, "sealed", "--steps", "200") == 0
    return base / "runs" / "sealed"


@pytest.mark.broken_run("the test changes a sealed run's files on purpose")
@pytest.mark.parametrize("tamper", list(TAMPERS))
def test_the_verifier_finds_a_changed_run(sealed, tmp_path, tamper):
    run = tmp_path / "copy"
    shutil.copytree(sealed, run)
    assert verify_run(run).errors == []
    change, said = TAMPERS[tamper]
    change(run)
    report = verify_run(run)
    assert any(said in line for line in report.errors), report.errors


def test_the_verifier_finds_a_secret(sealed):
    planted = hashlib.sha256(b"cleanroom").hexdigest()[:20]
    assert verify_run(sealed, secrets=[planted]).errors == []
    config = (sealed / "config.json").read_text(encoding="utf-8")
    assert verify_run(sealed, secrets=[config[10:30]]).errors != []
    assert all(name in {p.name for p in sealed.iterdir()} for name in CONTRACT_FILES)


# --- forged runs: every hash recomputed, a rule broken -----------------------------------


def _first_order(run: Path) -> int:
    lines = read(run, EVENTS)
    return next(i for i, line in enumerate(lines) if b'"client_order_id"' in line)


def _order_payload(change: Callable[[dict], dict]) -> Callable[[Path], None]:
    def forge(run: Path) -> None:
        edit(
            run,
            EVENTS,
            _first_order(run),
            lambda e: with_event_id({**e, "payload": change(e["payload"])}),
        )

    return forge


FORGERIES: dict[str, tuple[Callable[[Path], None], str]] = {
    "event_id": (
        lambda run: edit(run, EVENTS, 3, lambda e: {**e, "event_id": "0" * 24}),
        "stable_id gives",
    ),
    "events seq gap": (
        lambda run: write(
            run, EVENTS, [line for i, line in enumerate(read(run, EVENTS)) if i != 10]
        ),
        "seq 12, expected 11",
    ),
    "ts_sim back": (
        lambda run: edit(run, EVENTS, 20, lambda e: {**e, "ts_sim": e["ts_sim"] - 10**12}),
        "goes back",
    ),
    "ts_utc offset": (
        lambda run: edit(
            run, EVENTS, 20, lambda e: {**e, "ts_utc": e["ts_utc"].replace("Z", "+00:00")}
        ),
        "is not RFC 3339 UTC with Z",
    ),
    "a float": (_order_payload(lambda p: {**p, "fee": 0.5}), "a float at $.payload.fee"),
    "client order id": (
        _order_payload(lambda p: {**p, "client_order_id": "ls-" + p["client_order_id"][3:]}),
        "is not 1-32 of [A-Za-z0-9]",
    ),
    "an order sent twice": (
        lambda run: edit(
            run,
            EVENTS,
            _first_order(run) + 1,
            lambda e: with_event_id(
                {
                    **e,
                    "event_type": "ORDER_SUBMITTED",
                    "payload": orjson.loads(read(run, EVENTS)[_first_order(run)])["payload"],
                }
            ),
        ),
        "submitted more than once",
    ),
    "order without id": (
        _order_payload(lambda p: {k: v for k, v in p.items() if k != "client_order_id"}),
        "carries no client_order_id",
    ),
    "status of a state": (
        lambda run: edit(run, SNAPSHOTS, 3, lambda s: {**s, "status": "COMPLETED"}),
        "expected RUNNING",
    ),
    "from_state": (
        lambda run: edit(run, SNAPSHOTS, 2, lambda s: {**s, "from_state": "STOPPED"}),
        "is not the previous state",
    ),
    "a record after the stop": (
        lambda run: write(
            run,
            AUDIT,
            [
                *read(run, AUDIT),
                dumps({**orjson.loads(read(run, AUDIT)[0]), "seq": len(read(run, AUDIT)) + 1}),
            ],
        ),
        "once, last",
    ),
    "stop status": (
        lambda run: edit(
            run, AUDIT, -1, lambda a: {**a, "payload": {**a["payload"], "status": "FAILED"}}
        ),
        "stop says FAILED",
    ),
}


@pytest.mark.broken_run("the test forges a sealed run's files on purpose")
@pytest.mark.parametrize("forgery", [*FORGERIES, "chain from another genesis"])
def test_both_verifiers_find_a_forged_run(sealed, tmp_path, forgery):
    """The files changed and every hash recomputed (digests, chain, metrics' head and
    counts): only the broken rule is left, and both verifiers must find it."""
    run = tmp_path / "copy"
    shutil.copytree(sealed, run)
    if forgery == "chain from another genesis":
        reseal(run, genesis="1" * 64)
        said = "chain gives " + "0" * 64
    else:
        forge, said = FORGERIES[forgery]
        forge(run)
        reseal(run)
    report = verify_run(run)
    assert any(said in line for line in report.errors), report.errors
    assert main(["verify", str(run)]) == 1
