"""What a strategy imports besides its own file: its package's modules, installed packages.

A run records the SHA-256 of the referenced module's file; a strategy that keeps its logic
in a helper module of its package, or leans on an installed package, ran other code after
either changed, and neither ``resume`` nor the evidence's determinism re-run could tell
(the re-run only asked whether the strategy was deterministic). ``config.json``'s
``sources`` now also keep the package's other modules (``package_files``) and the versions
of the distributions it imports (``distributions``), and each command that runs the code
again refuses a difference naming it.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import orjson
import pytest

from livesession.status import run_status

from _helpers import one_line_error
from crash_harness import KILLED, cli

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
REF = "tdesk.strat:make_strategy"


def _tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _dist(site: Path, version: str) -> None:
    """``fakelib`` installed in ``site`` at ``version`` (its metadata, as pip leaves it)."""
    for old in site.glob("fakelib-*.dist-info"):
        shutil.rmtree(old)
    info = site / f"fakelib-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: fakelib\nVersion: {version}\n")


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A strategy package whose module imports a helper, which imports ``fakelib`` 1.0."""
    site = tmp_path / "site"
    (site / "fakelib").mkdir(parents=True)
    (site / "fakelib" / "__init__.py").write_text("WIDTH = 20\n")
    _dist(site, "1.0")
    monkeypatch.setenv("PYTHONPATH", str(site))
    monkeypatch.syspath_prepend(str(site))
    root = tmp_path / "desk"
    (root / "tdesk").mkdir(parents=True)
    (root / "tdesk" / "__init__.py").write_text("")
    (root / "tdesk" / "helper.py").write_text("import fakelib\n\nLOOKBACK = fakelib.WIDTH\n")
    strat = (EXAMPLES / "mydesk" / "breakout.py").read_text()
    (root / "tdesk" / "strat.py").write_text(strat + "\nfrom tdesk.helper import LOOKBACK\n")
    toml = (EXAMPLES / "mydesk.toml").read_text().replace("mydesk.breakout", "tdesk.strat")
    (root / "desk.toml").write_text(toml)
    return root


def test_a_changed_helper_module_is_named_by_resume_status_and_evidence(tmp_path, desk):
    """Bug: a strategy's helper module edited after the run started was not seen: `resume`
    went on with the new code, `status` said `resumable yes`, and evidence's re-run said only
    `the determinism re-run does not match: ... (is strategy ... deterministic? ...)`."""
    out = tmp_path / "runs"
    killed = cli("dryrun", "-c", desk / "desk.toml", "--out", out, "-q", crash_at="checkpoint:2")
    assert killed.returncode == KILLED
    run_dir = out / "mydesk"
    record = orjson.loads((run_dir / "config.json").read_bytes())["sources"]["strategy"]
    helper = desk / "tdesk" / "helper.py"
    assert record["package_files"] == {
        "tdesk/__init__.py": hashlib.sha256(b"").hexdigest(),
        "tdesk/helper.py": hashlib.sha256(helper.read_bytes()).hexdigest(),
    }
    assert record["distributions"] == {"fakelib": "1.0"}

    original = helper.read_bytes()
    helper.write_bytes(original.replace(b"fakelib.WIDTH", b"fakelib.WIDTH // 2"))
    said = (
        f"the code of strategy {REF!r} differs from run mydesk's: tdesk/helper.py, a module "
        "of its package the run imported, changed (SHA-256 "
    )
    assert said in str(run_status(run_dir).resume_problem)
    before = _tree(run_dir)
    one_line_error(cli("resume", run_dir, "-q"), said, f"in {helper})")
    assert _tree(run_dir) == before

    helper.write_bytes(original)
    resumed = cli("resume", run_dir, "-q")
    assert resumed.returncode == 0, resumed.stderr
    made = cli("evidence", run_dir, "--out", tmp_path / "made")
    assert made.returncode == 0, made.stderr
    (document,) = (tmp_path / "made").glob("EV-*.md")
    helper_sha = record["package_files"]["tdesk/helper.py"][:12]
    assert (
        (  # the document says what to rebuild the re-run's environment with
            f"; with tdesk/\\_\\_init\\_\\_.py (SHA-256 {hashlib.sha256(b'').hexdigest()[:12]}...), "
            f"tdesk/helper.py (SHA-256 {helper_sha}...), fakelib 1.0\n"
        )
        in document.read_text()
    )
    helper.write_bytes(original + b"# tuned\n")
    one_line_error(cli("evidence", run_dir, "--out", tmp_path / "ev"), said)
    assert not (tmp_path / "ev").exists()


def test_an_installed_package_at_another_version_is_named(tmp_path, desk):
    """Bug: the strategy's helper imported a package that was upgraded after the run; the
    evidence re-ran the run with it, and a resume continued with it, neither saying so."""
    out = tmp_path / "runs"
    killed = cli("dryrun", "-c", desk / "desk.toml", "--out", out, "-q", crash_at="checkpoint:2")
    assert killed.returncode == KILLED
    run_dir = out / "mydesk"
    _dist(tmp_path / "site", "2.0")
    said = (
        f"the code of strategy {REF!r} differs from run mydesk's: the package fakelib it "
        "imports is 2.0 here, 1.0 when the run started (install fakelib==1.0)"
    )
    assert said in str(run_status(run_dir).resume_problem)
    one_line_error(cli("resume", run_dir, "-q"), said)
    _dist(tmp_path / "site", "1.0")
    assert cli("resume", run_dir, "-q").returncode == 0
    _dist(tmp_path / "site", "2.0")
    one_line_error(cli("evidence", run_dir, "--out", tmp_path / "ev"), said)


def test_a_burn_in_says_which_runs_ran_which_helper_module(tmp_path, desk):
    """Bug: a burn-in over two days whose strategy's helper module was changed in between
    noted nothing of it: only a change of the referenced module's own file was said."""
    helper = desk / "tdesk" / "helper.py"
    config = (desk / "desk.toml").read_text()
    shas = []
    for day in ("day1", "day2"):
        if day == "day2":
            helper.write_text(helper.read_text() + "# tuned after day1\n")
        shas.append(hashlib.sha256(helper.read_bytes()).hexdigest()[:12])
        toml = desk / f"{day}.toml"
        toml.write_text(config.replace('run_id = "mydesk"', f'run_id = "{day}"'))
        made = cli("dryrun", "-c", toml, "--out", tmp_path / "runs", "--durability", "none", "-q")
        assert made.returncode == 0, made.stderr
    judged = cli("burnin", tmp_path / "runs" / "day1", tmp_path / "runs" / "day2", "--json")
    assert judged.returncode in (0, 1), judged.stderr
    assert orjson.loads(judged.stdout)["notes"][0] == (
        "what the strategy's code imports differs between the runs: tdesk/helper.py (SHA-256 "
        f"{shas[0]}...) (day1), tdesk/helper.py (SHA-256 {shas[1]}...) (day2) (config.json's "
        "sources)"
    )
