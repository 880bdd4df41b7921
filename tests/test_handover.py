"""What the evidence gives a reviewer to compare with values published apart from the files.

The audit chain has no key: a run whose ``config.json`` risk limits were rewritten, with
``config_sha256``, the event id, the digests, the chain and ``audit_head`` recomputed,
passed ``verify`` and ``evidence`` (PASS, and its determinism re-run matched, since limits
that never bound change no event), while docs/artifacts.md said the limits "cannot be
changed after the run unseen" and the README that the evidence can be checked "without
trusting the code that wrote it". Only an audit head taken when the run ended tells such a
run apart, and ``evidence`` did not say it where an operator hands a run over: it now
prints the audit head and the manifest's SHA-256 (``--json`` too), the EV document puts the
head first with what to do with it, and the docs say what the chain proves and what not.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import orjson
import pytest

from _pages import operator_section
from livesession import RunHeld, verify_run
from livesession._domain.config import DryrunConfig
from livesession._domain.ids import stable_id
from livesession._rundir import config_hash
from livesession._rundir.resumecut import refuse_while_evidence_reads
from livesession.cli import main
from livesession.evidence import write_evidence

ROOT = Path(__file__).resolve().parent.parent
_AUDITED_OUT = ("base_dir", "checkpoint_every", "durability", "sources")


@pytest.fixture(name="run", scope="module")
def _run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    args = ["dryrun", "--out", str(out), "--run-id", "hand", "--steps", "300", "-q"]
    assert main([*args, "--durability", "none"]) == 0
    return out / "hand"


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def _dump(obj: object) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def _forge_limits(run: Path, forged: Path) -> str:
    """``run`` copied to ``forged`` with tighter risk limits and every value that depends on
    them recomputed, as the contract says to compute each; the forged audit head."""
    shutil.copytree(run, forged)
    config = orjson.loads((forged / "config.json").read_bytes())
    config["risk"] |= {"max_order_qty": "0.010", "max_order_notional": "500"}
    (forged / "config.json").write_bytes(
        orjson.dumps(config, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"
    )
    audited = hashlib.sha256(
        _dump({k: v for k, v in config.items() if k not in _AUDITED_OUT})
    ).hexdigest()
    meta = orjson.loads((forged / "run.json").read_bytes())
    cfg = DryrunConfig.from_mapping({k: v for k, v in config.items() if k != "sources"})
    (forged / "run.json").write_bytes(_dump(meta | {"config_hash": config_hash(cfg)}) + b"\n")
    events = _lines(forged / "events.jsonl")
    first = orjson.loads(events[0])
    first["payload"]["config_sha256"] = audited
    first["event_id"] = stable_id(
        first["run_id"], first["strategy_id"], first["event_type"], first["seq"], first["payload"]
    )
    events[0] = _dump(first)
    (forged / "events.jsonl").write_bytes(b"".join(line + b"\n" for line in events))
    records = [orjson.loads(line) for line in _lines(forged / "audit.jsonl")]
    records[0]["payload"]["config_sha256"] = audited
    records[-1]["payload"]["digests"] = {
        name: hashlib.sha256((forged / name).read_bytes()).hexdigest()
        for name in ("events.jsonl", "state_snapshots.jsonl")
    }
    prev, chained = "0" * 64, []
    for record in records:
        line = _dump(record | {"prev_hash": prev})
        chained.append(line + b"\n")
        prev = hashlib.sha256(line).hexdigest()
    (forged / "audit.jsonl").write_bytes(b"".join(chained))
    old = orjson.loads((run / "metrics.json").read_bytes())["audit_head"]
    for name in ("metrics.json", "checkpoint.json"):
        path = forged / name
        path.write_bytes(path.read_bytes().replace(old.encode(), prev.encode()))
    return prev


class TestTheBundleSaysWhatToCompare:
    def test_evidence_prints_the_audit_head_and_the_manifests_digest(
        self, run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The two values the desk publishes at hand-over, on stdout and in --json."""
        head = orjson.loads((run / "metrics.json").read_bytes())["audit_head"]
        assert main(["evidence", str(run), "--out", str(tmp_path / "plain")]) == 0
        lines = capsys.readouterr().out.splitlines()
        digest = hashlib.sha256((tmp_path / "plain" / "manifest.json").read_bytes()).hexdigest()
        (document,) = (tmp_path / "plain").glob("EV-*.md")
        assert lines[:2] == [  # where the bundle is, as RUNBOOK's hand-over shows it
            f"manifest  {tmp_path / 'plain' / 'manifest.json'}",
            f"document  {document}",
        ]
        assert f"head      {head} (audit head)" in lines
        assert f"sha256    {digest} (manifest.json)" in lines
        steps = orjson.loads((run / "metrics.json").read_bytes())["steps"]
        assert lines[-2:] == [
            (
                "evidence  VERIFIED: the run's files are intact and every check of the bundle "
                "passed: this says the record is sound, not that the run went well"
            ),
            f"run       COMPLETED: ran its steps; sealed COMPLETED after {steps} of {steps} steps",
        ]

        assert main(["evidence", str(run), "--out", str(tmp_path / "json"), "--json"]) == 0
        said = orjson.loads(capsys.readouterr().out)
        digest = hashlib.sha256((tmp_path / "json" / "manifest.json").read_bytes()).hexdigest()
        assert (said["audit_head"], said["manifest_sha256"]) == (head, digest)

    def test_the_document_puts_the_head_first_with_what_to_do(
        self, run: Path, tmp_path: Path
    ) -> None:
        result = write_evidence(run, out_dir=tmp_path)
        text = result.document.read_text(encoding="utf-8")
        head = orjson.loads(result.manifest.read_bytes())["audit_head"]
        assert result.audit_head == head
        assert (
            f"- **Audit head: `{head}`**. Compare it with the audit head published when the "
            "run ended, apart from these files: the chain has no key" in text
        )
        assert text.index("Audit head") < text.index("## Verification")


class TestARewrittenRun:
    def test_passes_every_check_and_only_its_head_tells_it_apart(
        self, run: Path, tmp_path: Path
    ) -> None:
        """What the docs now say: the forgery passes verify, the evidence and its re-run
        (the limits never bound); the audit head published at the end differs."""
        published = orjson.loads((run / "metrics.json").read_bytes())["audit_head"]
        forged = tmp_path / "hand"
        forged_head = _forge_limits(run, forged)

        assert verify_run(forged).ok
        result = write_evidence(forged, out_dir=tmp_path / "bundle")
        manifest = orjson.loads(result.manifest.read_bytes())
        assert result.ok, result.problems
        assert manifest["determinism"]["status"] == "match"
        assert orjson.loads((forged / "config.json").read_bytes())["risk"]["max_order_qty"] == (
            "0.010"
        )
        assert result.audit_head == forged_head != published


class TestTheDocsSayIt:
    def test_what_the_chain_proves_and_what_it_does_not(self) -> None:
        page = (ROOT / "docs" / "artifacts.md").read_text(encoding="utf-8")
        section = page.split("\n## What the chain proves, and what it does not\n", 1)[1]
        section = section.split("\n## ", 1)[0]
        for said in (
            "no key and no anchor outside the files",
            "**What it does not prove: that these are the files the run wrote.**",
            "a forged limit shows only where it would have decided something",
            "A limit that never\n  bound",
            "publishes\n     it where whoever holds the files cannot change it afterwards",
            "compares its `head` with the published audit\n     head",
        ):
            assert said in section, said
        assert "cannot be changed after the run unseen" not in page

    def test_the_readme_and_the_runbook_do_not_overstate_it(self) -> None:
        readme = (ROOT / "README.md").read_text(encoding="utf-8")
        assert "without trusting the code that wrote it" not in readme
        assert "it has no key" in readme
        handover = operator_section("Check and hand over a run")
        assert "Hand these two over apart from the files" in handover
        assert "compares its `head` with the published audit head" in handover


def test_two_evidences_written_elsewhere_read_the_run_side_by_side(run, tmp_path) -> None:
    """Two reviewers each writing the evidence of one run into their own ``--out`` were
    refused one another: the second said ``DIR: another livesession evidence is writing its
    bundle there`` (exit 3) of a run directory neither wrote into. An evidence whose bundle
    goes elsewhere holds the run's lock shared now; a resume, and an evidence writing into
    the run, still wait for it."""
    before = sorted(p.name for p in run.iterdir())
    seen: dict[str, object] = {}

    def meanwhile(phase: str) -> None:
        if phase != "verifying the run" or seen:
            return
        seen["second"] = write_evidence(run, out_dir=tmp_path / "b")
        with pytest.raises(RunHeld) as into_the_run:
            write_evidence(run)
        seen["into_the_run"] = str(into_the_run.value)
        with pytest.raises(RunHeld) as resume:
            refuse_while_evidence_reads(run)
        seen["resume"] = str(resume.value)

    first = write_evidence(run, out_dir=tmp_path / "a", progress=meanwhile)
    second = seen["second"]
    assert first.ok
    assert second.ok  # type: ignore[attr-defined]
    for result in (first, second):
        manifest = result.manifest  # type: ignore[attr-defined]
        digest = hashlib.sha256(manifest.read_bytes()).hexdigest()
        assert digest == result.manifest_sha256  # type: ignore[attr-defined]
    assert str(seen["into_the_run"]).startswith(f"{run}: another livesession evidence ")
    assert str(seen["resume"]).startswith(f"{run} is being read by a livesession evidence")
    assert sorted(p.name for p in run.iterdir()) == before  # nothing written into the run
