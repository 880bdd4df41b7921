"""The evidence bundle, and the verify / report / prom commands on a real run."""

from __future__ import annotations

import hashlib

import orjson
import pytest

from livesession.cli import main
from livesession.evidence import scan_secrets


@pytest.fixture(name="run_dir", scope="module")
def _run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    assert (
        main(
            [
                "dryrun",
                "--out",
                str(out),
                "--run-id",
                "ev",
                "--steps",
                "300",
                "-q",
                "--durability",
                "none",
            ]
        )
        == 0
    )
    return out / "ev"


class TestEvidence:
    def test_bundle_digests_match_and_determinism_passes(self, run_dir, capsys):
        """The manifest's digests match the files, verify is clean, the re-run matches."""
        assert main(["evidence", str(run_dir)]) == 0
        manifest = orjson.loads((run_dir / "manifest.json").read_bytes())
        for name, digest in manifest["artifacts"].items():
            assert hashlib.sha256((run_dir / name).read_bytes()).hexdigest() == digest, name
        for name in ("events.jsonl", "state_snapshots.jsonl", "metrics.json", "audit.jsonl"):
            assert name in manifest["artifacts"]
        assert manifest["verify"]["ok"] is True
        assert manifest["determinism"]["status"] == "match"
        assert manifest["secret_scan"]["clean"] is True
        assert manifest["approval"] == {"name": "", "role": "", "date": ""}
        assert set(manifest["fired"]["rails"]) >= {"ALLOWLIST", "MAX_ORDER_QTY", "DAILY_LOSS"}
        docs = list(run_dir.glob("EV-*-ev.md"))
        assert len(docs) == 1
        text = docs[0].read_text()
        assert "| Name | |" in text
        assert "PASS" in text

    def test_secret_scan_finds_a_planted_secret(self, tmp_path):
        """A secret planted in any file of a run is found, and the finding does not repeat it."""
        (tmp_path / "notes.txt").write_text('ok\nexchange api_key = "Zq81mVbX2kP0sL9dQw3e"\n')
        (tmp_path / "leak.log").write_text("connecting to postgresql://u:hunter2hunter2@db/x\n")
        (tmp_path / "env.txt").write_text("value sk-planted-0123456789 here\n")
        findings = scan_secrets(tmp_path, environ={"MY_API_SECRET": "sk-planted-0123456789"})
        assert "notes.txt:2: assigned_secret" in findings
        assert "leak.log:1: url_password" in findings
        assert "env.txt:1: value of $MY_API_SECRET" in findings
        assert not any("Zq81mVbX2kP0sL9dQw3e" in f or "hunter2" in f for f in findings)

    def test_evidence_fails_when_a_secret_is_planted(self, tmp_path, capsys):
        """A bundle over a run with a planted secret is marked FAIL (exit 1)."""
        out = tmp_path / "runs"
        assert main(["dryrun", "--out", str(out), "--run-id", "leaky", "--steps", "50", "-q"]) == 0
        (out / "leaky" / "operator-notes.txt").write_text("password: Tr0ub4dor3xyzzy\n")
        assert main(["evidence", str(out / "leaky")]) == 1
        manifest = orjson.loads((out / "leaky" / "manifest.json").read_bytes())
        assert manifest["secret_scan"]["findings"] == ["operator-notes.txt:1: assigned_secret"]
        assert manifest["ok"] is False


class TestCommands:
    def test_verify_clean_run(self, run_dir, capsys):
        """verify exits 0 on an untouched run."""
        assert main(["verify", str(run_dir)]) == 0
        assert capsys.readouterr().out.startswith("OK ")

    @pytest.mark.broken_run("it tampers with a run")
    def test_verify_tampered_run(self, tmp_path, capsys):
        """verify exits 1 and lists violations when a byte changed."""
        out = tmp_path / "runs"
        assert main(["dryrun", "--out", str(out), "--run-id", "t", "--steps", "50", "-q"]) == 0
        events = out / "t" / "events.jsonl"
        events.write_bytes(events.read_bytes().replace(b'"BAR"', b'"BAR_"', 1))
        assert main(["verify", str(out / "t")]) == 1
        assert "events.jsonl" in capsys.readouterr().out

    def test_missing_run_directory(self, tmp_path, capsys):
        """verify/evidence/report on a missing directory: one line, exit 2."""
        for command in ("verify", "evidence", "report", "prom"):
            assert main([command, str(tmp_path / "nope")]) == 2
            assert "does not exist" in capsys.readouterr().err

    def test_report_and_prom(self, run_dir):
        """report writes one HTML file; prom writes trader_* metrics."""
        assert main(["report", str(run_dir)]) == 0
        html = (run_dir / "report.html").read_text()
        assert "<html" in html.lower()
        assert "ev" in html
        assert main(["prom", str(run_dir)]) == 0
        assert "trader_orders_placed_total" in (run_dir / "livesession.prom").read_text()


class TestCcxtGate:
    def test_ccxt_without_credentials_writes_nothing(self, tmp_path, capsys, monkeypatch):
        """A ccxt run without credentials names the variables, exits 2, and leaves no files."""
        monkeypatch.delenv("LIVESESSION_BINANCE_API_KEY", raising=False)
        monkeypatch.delenv("LIVESESSION_BINANCE_API_SECRET", raising=False)
        out = tmp_path / "out"
        assert main(["dryrun", "--broker", "ccxt:binance", "--out", str(out), "-q"]) == 2
        err = capsys.readouterr().err
        assert "LIVESESSION_BINANCE_API_KEY" in err
        assert not out.exists()
