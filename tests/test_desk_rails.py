"""A desk's own rails in a run directory: the config's ``rails``, kept across resume.

Before, a desk's rail ran only embedded (``LiveSessionOrchestrator(rails=...)``): a run
directory and the CLI refused it, since a resume and the evidence's re-run could not get
the object back. Now ``rails = ["desk.rails:max_position"]`` names it by reference, with its
keyword arguments in ``[rails_params."desk.rails:max_position"]``: it is checked after the
built-in rails, recorded with its source file's SHA-256 (``sources["rails[0]"]``), built
again by ``resume`` and ``evidence``, and refused there when its module changed.
"""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import orjson
import pytest

from livesession import DryrunConfig, LiveSessionOrchestrator, PluginError, create_run

from _helpers import Sinks, one_line_error
from crash_harness import KILLED, cli

REF = "desk.rails:max_position"
RAIL = """
from decimal import Decimal

from livesession import Rejection, Side


class MaxPosition:
    rule = "MAX_POSITION"

    def __init__(self, cap):
        self.cap = Decimal(cap)

    def __call__(self, intent, ctx):
        ahead = intent.quantity + ctx.open_on_side
        after = ctx.position + (ahead if intent.side is Side.BUY else -ahead)
        if abs(after) <= self.cap:
            return None
        return Rejection(
            rule=self.rule,
            detail={"position": str(after), "limit": str(self.cap)},
            reason=f"position {after} > max position {self.cap}",
        )


def max_position(*, cap):
    return MaxPosition(cap)


def not_a_rail(**_params):
    return {"rule": "X"}


def built_in_rule(**_params):
    rail = MaxPosition("1")
    rail.rule = "MAX_ORDER_QTY"
    return rail


def raises(**_params):
    raise ValueError("cap must be positive")


class PriceBand:
    rule = "PRICE_BAND"

    def __init__(self, above):
        self.above = Decimal(above)

    def __call__(self, intent, ctx):
        if intent.side is Side.BUY and ctx.last_price > self.above:
            return Rejection(rule=self.rule, detail={}, reason=f"buy above {self.above}")
        return None


def price_band(*, above):
    return PriceBand(above)
"""
CONFIG = f"""run_id = "capped"
steps = 300
checkpoint_every = 50
rails = ["{REF}"]

[rails_params."{REF}"]
cap = "0.005"
"""


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): _sha(p) for p in sorted(root.rglob("*")) if p.is_file()}


def _refusals(run_dir: Path) -> list[dict[str, object]]:
    events = [orjson.loads(line) for line in (run_dir / "events.jsonl").read_bytes().splitlines()]
    return [e for e in events if e["event_type"] == "RISK_REJECTED"]


@pytest.fixture(name="desk")
def _desk(tmp_path: Path) -> Path:
    """A desk directory: the rail package and the config naming it."""
    desk = tmp_path / "desk"
    (desk / "desk").mkdir(parents=True)
    (desk / "desk" / "__init__.py").write_text("")
    (desk / "desk" / "rails.py").write_text(textwrap.dedent(RAIL))
    (desk / "desk.toml").write_text(CONFIG)
    return desk


def test_a_desk_rail_fires_in_a_cli_run_that_verifies_and_records_it(tmp_path, desk):
    out = tmp_path / "runs"
    proc = cli("dryrun", "-c", desk / "desk.toml", "--out", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "MAX_POSITION" in proc.stdout  # the summary's risk blocks, by rule
    run_dir = out / "capped"
    refused = _refusals(run_dir)
    assert refused, "the desk's rail never fired"
    assert {e["payload"]["rule"] for e in refused} == {"MAX_POSITION"}  # type: ignore[index]
    config = orjson.loads((run_dir / "config.json").read_bytes())
    assert config["rails"] == [REF]
    assert config["rails_params"] == {REF: {"cap": "0.005"}}
    source = config["sources"]["rails[0]"]
    assert source["ref"] == REF
    assert source["rule"] == "MAX_POSITION"
    assert source["sha256"] == _sha(desk / "desk" / "rails.py")
    assert cli("verify", run_dir, cwd=tmp_path).returncode == 0

    assert cli("report", run_dir, cwd=tmp_path).returncode == 0
    html = (run_dir / "report.html").read_text()
    assert "MAX_POSITION" in html
    assert "rails[0] code" in html

    evidence = cli("evidence", run_dir, cwd=tmp_path)
    assert evidence.returncode == 0, evidence.stderr
    manifest = orjson.loads((run_dir / "manifest.json").read_bytes())
    assert manifest["determinism"]["status"] == "match"  # the re-run built the rail again
    assert manifest["fired"]["rails"]["MAX_POSITION"] == len(refused)
    assert manifest["plugins"]["rails[0]"]["sha256"] == source["sha256"]
    document = next(run_dir.glob("EV-*.md")).read_text()
    assert f"| rail | MAX_POSITION | {len(refused)} |" in document
    assert f"{REF} (rule MAX_POSITION)" in document

    printed = cli("dryrun", "-c", desk / "desk.toml", "--print-config", cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    assert f'rails = ["{REF}"]' in printed.stdout
    assert f'"{REF}" = {{cap = "0.005"}}' in printed.stdout


def test_a_resumed_run_keeps_its_rail_and_a_changed_rail_is_refused(tmp_path, desk):
    config = desk / "desk.toml"
    straight = cli("dryrun", "-c", config, "--out", tmp_path / "straight", "-q", cwd=tmp_path)
    assert straight.returncode == 0, straight.stderr
    out = tmp_path / "runs"
    killed = cli("dryrun", "-c", config, "--out", out, "-q", crash_at="checkpoint:2", cwd=tmp_path)
    assert killed.returncode == KILLED
    run_dir = out / "capped"
    before = _tree(run_dir)
    kept = len((run_dir / "events.jsonl").read_bytes().splitlines())  # up to the crash

    # The rail's module changed since the run started: resume refuses it, changing nothing.
    source = desk / "desk" / "rails.py"
    original = source.read_bytes()
    source.write_bytes(original.replace(b"abs(after) <= self.cap", b"abs(after) <= 2 * self.cap"))
    refused = cli("resume", run_dir, cwd=tmp_path)
    one_line_error(refused, f"rails[0] '{REF}' changed since run capped started")
    assert _tree(run_dir) == before
    # ... and so does a module that is gone.
    source.unlink()
    refused = cli("resume", run_dir, cwd=tmp_path)
    one_line_error(refused, "rails[0]", REF)
    assert _tree(run_dir) == before

    source.write_bytes(original)
    resumed = cli("resume", run_dir, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    for name in ("events.jsonl", "state_snapshots.jsonl"):
        assert _sha(run_dir / name) == _sha(tmp_path / "straight" / "capped" / name), name
    after = (run_dir / "events.jsonl").read_bytes().splitlines()[kept:]
    assert any(b'"rule":"MAX_POSITION"' in line for line in after)  # fired after the resume
    assert cli("verify", run_dir, cwd=tmp_path).returncode == 0

    # The evidence's re-run builds the same rail: changed, it is refused before writing.
    source.write_bytes(original + b"\n# tuned after the run\n")
    refused = cli("evidence", run_dir, cwd=tmp_path)
    one_line_error(refused, REF, "changed since run capped started")
    assert not (run_dir / "manifest.json").exists()


@pytest.mark.parametrize(
    ("rails", "params", "needles"),
    [
        (
            '["nosuchdesk.rails:max_position"]',
            "",
            ("line 4: rails[0]: cannot import 'nosuchdesk.rails:max_position'",),
        ),
        ('["desk.rails:nope"]', "", ("line 4: rails[0]: cannot use 'desk.rails:nope'",)),
        ('["desk.rails:raises"]', "", ("rails[0] 'desk.rails:raises' raised ValueError",)),
        (
            '["desk.rails:not_a_rail"]',
            "",
            ("rails[0] 'desk.rails:not_a_rail' returned a dict, not a Rail: it lacks rule",),
        ),
        (
            '["desk.rails:built_in_rule"]',
            "",
            ("rails[0] 'desk.rails:built_in_rule' made a rail whose rule 'MAX_ORDER_QTY'",),
        ),
        (  # its params are called as written: a missing one is the factory's TypeError
            f'["{REF}"]',
            "",
            (f"rails[0] '{REF}' raised TypeError",),
        ),
        (
            '["desk.rails:raises"]',
            f'[rails_params."{REF}"]\ncap = "1"\n',
            (f"rails_params has a table for '{REF}', but rails does not list it",),
        ),
        (f'["{REF}", "{REF}"]', "", (f"rails[1] repeats '{REF}'",)),
        (  # a config key written below a rail's table by mistake, which **kwargs would take
            '["desk.rails:not_a_rail"]',
            '[rails_params."desk.rails:not_a_rail"]\nmax_order_qty = "1"\n',
            (
                'line 6: rails_params."desk.rails:not_a_rail".max_order_qty is refused',
                "max_order_qty is a key of [risk]",
                "rails[0] 'desk.rails:not_a_rail' names no parameter max_order_qty",
            ),
        ),
        (  # a misspelt keyword: Python's TypeError named no file, line or parameter meant
            f'["{REF}"]',
            f'[rails_params."{REF}"]\ncapp = "1"\n',
            (
                (
                    f'line 6: rails_params."{REF}".capp is refused: rails[0] \'{REF}\' takes '
                    "no parameter capp (did you mean cap?); it takes cap"
                ),
            ),
        ),
    ],
    ids=["no-module", "no-attribute", "raises", "not-a-rail", "built-in-rule", "no-params",
         "stray-params", "twice", "misplaced-key", "misspelt-key"],
)  # fmt: skip
def test_bad_rail_references_are_refused_before_anything_is_written(
    tmp_path: Path, desk: Path, rails: str, params: str, needles: tuple[str, ...]
) -> None:
    (desk / "desk.toml").write_text(f'run_id = "bad"\nsteps = 5\n\nrails = {rails}\n{params}')
    out = tmp_path / "runs"
    proc = cli("dryrun", "-c", desk / "desk.toml", "--out", out, cwd=tmp_path)
    one_line_error(proc, *needles)
    if "cannot" in needles[0]:
        assert f"config file {desk / 'desk.toml'}, line 4: " in proc.stderr
    assert not out.exists()


def test_an_embedded_session_runs_the_config_s_rails_after_the_built_in_ones(
    tmp_path: Path, desk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``LiveSessionOrchestrator(config)`` with ``rails`` set builds them as a run does."""
    cfg = DryrunConfig(
        run_id="embedded", steps=300, rails=[REF], rails_params={REF: {"cap": "0.005"}},
        base_dir=str(desk),
    )  # fmt: skip
    sinks = Sinks()
    result = LiveSessionOrchestrator(cfg, **sinks.kwargs()).run_to_end(300)
    assert result.orders_submitted == 0
    assert b'"rule":"MAX_POSITION"' in sinks.events.getvalue()
    # create_run builds them before anything is written: a bad one leaves nothing.
    with pytest.raises(PluginError, match=r"rails\[0\] 'desk.rails:raises' raised ValueError"):
        create_run(
            DryrunConfig(run_id="bad", steps=5, rails=["desk.rails:raises"], base_dir=str(desk)),
            tmp_path / "runs",
        )
    assert not (tmp_path / "runs" / "bad").exists()


def test_the_risk_blocks_line_names_a_desk_rule_when_the_venue_rejected_orders_too(
    tmp_path: Path, desk: Path
) -> None:
    """Bug: with venue rejects in the run, ``risk blocks`` broke out the built-in rules
    only, so a desk's rule was counted in the total but never named (``71``, not ``71
    (PRICE_BAND 71)``): the rules the run recorded (``sources["rails[N]"]["rule"]``) are
    rails' rules too."""
    band = "desk.rails:price_band"
    (desk / "desk.toml").write_text(
        f'run_id = "banded"\nbroker = "realish"\nsteps = 300\nrails = ["{band}"]\n\n'
        f'[rails_params."{band}"]\nabove = "41800"\n\n[fill_model]\nreject_rate = "0.5"\n'
    )
    proc = cli("dryrun", "-c", desk / "desk.toml", "--out", tmp_path / "runs", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    blocks = len(_refusals(tmp_path / "runs" / "banded"))
    assert blocks
    assert f"risk blocks {blocks} (PRICE_BAND {blocks})" in lines, proc.stdout
    rejected = next(line for line in lines if line.startswith("rejected"))
    assert not rejected.startswith("rejected    0 "), rejected  # the venue refused some


MANY = """
class Passes:
    def __init__(self, rule):
        self.rule = rule

    def __call__(self, intent, ctx):
        return None

""" + "".join(f"\ndef make{n}():\n    return Passes('RULE_{n}')\n" for n in range(12))


def test_the_report_and_the_evidence_list_rails_10_after_rails_2(tmp_path: Path, desk: Path):
    """Bug: the sources' roles sorted as text, so the report's and the evidence's listings
    put ``rails[10]`` and ``rails[11]`` between ``rails[1]`` and ``rails[2]``."""
    (desk / "desk" / "many.py").write_text(MANY)
    refs = ", ".join(f'"desk.many:make{n}"' for n in range(12))
    (desk / "desk.toml").write_text(f'run_id = "many"\nsteps = 20\nrails = [{refs}]\n')
    proc = cli("dryrun", "-c", desk / "desk.toml", "--out", tmp_path / "runs", "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    run_dir = tmp_path / "runs" / "many"
    assert cli("report", run_dir, cwd=tmp_path).returncode == 0
    html = (run_dir / "report.html").read_text()
    shown = [html.index(f"rails[{n}] code") for n in range(12)]
    assert shown == sorted(shown)
    assert cli("evidence", run_dir, cwd=tmp_path).returncode == 0
    document = next(run_dir.glob("EV-*.md")).read_text()
    listed = [document.index(f"- rails\\[{n}\\] desk.many:make{n} ") for n in range(12)]
    assert listed == sorted(listed)
    # The recorded bytes keep their order: config.json's and manifest.json's keys sorted.
    config = (run_dir / "config.json").read_bytes()
    assert config.index(b'"rails[10]"') < config.index(b'"rails[2]"')


def test_a_rail_package_in_the_current_directory_is_named_with_what_to_do(
    tmp_path: Path, desk: Path
) -> None:
    """The current directory is never searched: the hint named strategy_factory, feed and
    broker only, and --config only, where a desk's rails (and a config built in Python,
    the testing kit's) need base_dir."""
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "desk.toml").write_text(CONFIG)
    proc = cli("dryrun", "-c", tmp_path / "configs" / "desk.toml", "--out", tmp_path / "runs",
               cwd=desk)  # fmt: skip
    one_line_error(
        proc,
        "desk is in the current directory, which is never searched",
        "(strategy_factory, feed, broker or rails)",
        "pass --config, or install it (from Python: set the config's base_dir to the directory",
    )
    assert not (tmp_path / "runs").exists()
