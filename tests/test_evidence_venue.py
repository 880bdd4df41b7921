"""The evidence bundle names the venue a run traded on and the faults it injected.

A fault drill on the ``realish`` broker left a bundle that named neither the broker nor a
fault rate: ``EV-*.md`` read as a clean run's, and a drill of late fills (which leave no
event of their own) said ``broker_fault | no | not exercised in this session``.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from livesession.cli import main

_TOML = """\
run_id = "drill"
steps = 200
seed = 7
broker = "realish"
[realish]
transient_rate = "0"
timeout_rate = "0"
duplicate_ack_rate = "0"
late_fill_rate = "0.3"
late_fill_ms = 90000
latency_ms = 0
"""


def _bundle(out: Path, toml: str, run_id: str) -> Path:
    config = out / f"{run_id}.toml"
    config.write_text(toml, encoding="utf-8")
    argv = ["dryrun", "-c", str(config), "--out", str(out), "-q", "--durability", "none"]
    assert main([*argv, "--run-id", run_id]) == 0
    assert main(["evidence", str(out / run_id)]) == 0
    return out / run_id


@pytest.fixture(name="drill", scope="module")
def _drill(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _bundle(tmp_path_factory.mktemp("venue"), _TOML, "drill")


def test_the_manifest_records_the_venue_and_its_faults(drill: Path) -> None:
    venue = orjson.loads((drill / "manifest.json").read_bytes())["venue"]
    assert venue == {
        "broker": "realish",
        "fill_model": {
            "latency_ms": 0,
            "partial_fill_ratio": "0",
            "reject_rate": "0",
            "slippage_bps": "0",
        },
        "realish": {
            "duplicate_ack_rate": "0",
            "late_fill_ms": 90000,
            "late_fill_rate": "0.3",
            "latency_ms": 0,
            "timeout_rate": "0",
            "transient_rate": "0",
        },
    }


def test_the_document_says_each_fault_in_words(drill: Path) -> None:
    (doc,) = drill.glob("EV-*.md")
    text = doc.read_text(encoding="utf-8")
    assert "## The venue" in text
    assert "Broker `realish`, a simulated venue behind a network that injects seeded" in text
    assert (
        "| `realish.late_fill_rate` | 0.3 of orders | fills reported 90000 ms late (no event"
        in text
    )
    assert "| `realish.transient_rate` | 0 of submits |" in text
    assert "| `fill_model.reject_rate` | 0 of orders | rejected by the venue |" in text


def test_a_mock_run_names_its_fill_model_and_no_network_faults(
    tmp_path: Path,
) -> None:
    run = _bundle(tmp_path, 'steps = 50\n[fill_model]\nreject_rate = "0.1"\n', "calm")
    venue = orjson.loads((run / "manifest.json").read_bytes())["venue"]
    assert venue["broker"] == "mock"
    assert venue["fill_model"]["reject_rate"] == "0.1"
    assert "realish" not in venue
    (doc,) = run.glob("EV-*.md")
    text = doc.read_text(encoding="utf-8")
    assert "Broker `mock`, a simulated venue (`config.json`'s `broker` and `fill_model`," in text
    assert "| `fill_model.reject_rate` | 0.1 of orders |" in text
    assert "realish." not in text
