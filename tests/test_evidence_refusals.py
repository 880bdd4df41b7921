"""The evidence's "How the run ended" and the report's header say the orders the rails refused.

Before, a run whose per-trade risk rail refused all 178 orders its strategy asked for was
told `COMPLETED in STOPPED after 400 of 400 steps` and `equity 100000.00, PnL 0.00` on the
document's first screen; only the rails' table further down counted `PER_TRADE_RISK 178`,
without saying when. The section now has a line for them (the manifest's
``outcome.refusals``), told only when a rail refused an order. The report's header also
says why a resumed run was resumed, where it said only how often and from where.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson
import pytest

from livesession.cli import main
from livesession.evidence import write_evidence
from livesession.report import render_report

if TYPE_CHECKING:
    from pathlib import Path

_TOO_LARGE = """\
run_id = "rail"
steps = 400
seed = 11
[strategy]
order_qty = "0.5"
"""


_FIRST = {"from_step": 3, "at": None}
_BOTH_KINDS = {
    "refusals": {
        "by_rule": {
            "PER_TRADE_RISK": {"count": 5, **_FIRST},
            "QTY_BELOW_LOT": {"count": 7, **_FIRST},
            "REDUCE_ONLY": {"count": 1, **_FIRST},
        },
        "orders_sent": 2,
    }
}
"""An outcome whose rails and the session's own order checks both refused orders."""


def _refusals(run_dir: Path) -> tuple[list[str], object]:
    bundle = write_evidence(run_dir)
    document = bundle.document.read_text(encoding="utf-8")
    manifest = orjson.loads(bundle.manifest.read_bytes())
    said = [line for line in document.splitlines() if line.startswith("- Rails refused")]
    return said, manifest["outcome"].get("refusals")


def test_a_run_whose_rail_refused_every_order_says_so_first(tmp_path: Path) -> None:
    config = tmp_path / "rail.toml"
    config.write_text(_TOO_LARGE, encoding="utf-8")
    assert main(["dryrun", "-c", str(config), "--out", str(tmp_path), "-q"]) == 0

    said, refusals = _refusals(tmp_path / "rail")

    assert said == [
        (
            "- Rails refused 178 order(s) the strategy asked for: `PER_TRADE_RISK` 178 time(s), "
            "the first in step 20 (2026-01-01T00:20:00Z); 0 order(s) were sent in all (each "
            'rail: docs/risk.md, "The rails"; the table below counts them).'
        )
    ]
    assert refusals == {
        "by_rule": {
            "PER_TRADE_RISK": {"count": 178, "from_step": 20, "at": "2026-01-01T00:20:00Z"}
        },
        "orders_sent": 0,
    }


def test_a_run_no_rail_refused_has_no_such_line(tmp_path: Path) -> None:
    assert main(["dryrun", "--out", str(tmp_path), "--run-id", "calm", "--steps", "60", "-q"]) == 0

    assert _refusals(tmp_path / "calm") == ([], None)


def test_the_reports_header_says_them_too(tmp_path: Path) -> None:
    """Before: `status COMPLETED · 400 of 400 steps`, and the refusals far below."""
    config = tmp_path / "rail.toml"
    config.write_text(_TOO_LARGE, encoding="utf-8")
    assert main(["dryrun", "-c", str(config), "--out", str(tmp_path), "-q"]) == 0
    assert main(["dryrun", "--out", str(tmp_path), "--run-id", "calm", "--steps", "60", "-q"]) == 0

    page = render_report(tmp_path / "rail")
    header = page[page.index("<header>") : page.index("</header>")]

    assert (
        '<p class="sub">Rails refused 178 order(s) the strategy asked for: PER_TRADE_RISK 178 '
        "time(s) from 2026-01-01T00:20:00Z; 0 order(s) were sent in all (each rail under "
        "Limits, preflight checks and rails)</p>"
    ) in header
    assert "Rails refused" not in render_report(tmp_path / "calm")


def test_the_reports_header_says_why_a_run_was_resumed(tmp_path: Path) -> None:
    """Before: `Resumed once, from step 200 (...)`, and nothing of why."""
    from livesession import DryrunConfig, create_run, resume_run
    from test_interrupts import _interrupt_after

    cfg = DryrunConfig(run_id="again", steps=300, durability="none", checkpoint_every=100)
    session = create_run(cfg, tmp_path)
    _interrupt_after(session, 300, KeyboardInterrupt, written_out=True)  # at step 217
    with pytest.raises(KeyboardInterrupt), session:
        session.run_to_end(300)
    with resume_run(tmp_path / "again") as resumed:
        resumed.run_to_end(300)
    assert main(["dryrun", "--out", str(tmp_path), "--run-id", "calm", "--steps", "20", "-q"]) == 0

    page = render_report(tmp_path / "again")
    header = page[page.index("<header>") : page.index("</header>")]

    assert (
        '<p class="sub">Why: the process stopped without sealing the run (a crash, or a kill), '
        "and livesession resume went on from the last checkpoint, doing the steps after it "
        "again</p>"
    ) in header
    assert "Why:" not in render_report(tmp_path / "calm")


_BELOW_LOT = """\
run_id = "lot"
steps = 300
qty_lot = "0.1"
"""


def test_the_sessions_own_order_checks_are_not_called_rails(tmp_path: Path) -> None:
    """Before: `Rails refused 157 order(s) ...: QTY_BELOW_LOT 157 time(s)`, in the document
    and the report's header, of the session's own check of the lot, which is no rail."""
    config = tmp_path / "lot.toml"
    config.write_text(_BELOW_LOT, encoding="utf-8")
    assert main(["dryrun", "-c", str(config), "--out", str(tmp_path), "-q"]) == 0

    document = write_evidence(tmp_path / "lot").document.read_text(encoding="utf-8")
    page = render_report(tmp_path / "lot")
    header = page[page.index("<header>") : page.index("</header>")]

    assert "Rails refused" not in document
    assert (
        "- The session's own order checks refused 157 order(s) the strategy asked for: "
        "`QTY_BELOW_LOT` 157 time(s), the first in step 30 (2026-01-01T00:30:00Z); 0 order(s) "
        'were sent in all (each rule: docs/risk.md, "The rails"; the table below counts them).'
    ) in document.splitlines()
    assert "Rails refused" not in header
    assert (
        '<p class="sub">The session&#x27;s own order checks refused 157 order(s) the strategy '
        "asked for: QTY_BELOW_LOT 157 time(s) from 2026-01-01T00:30:00Z; 0 order(s) were sent "
        "in all (each rule under Limits, preflight checks and rails)</p>"
    ) in header


def test_rails_and_order_checks_are_said_apart_in_one_line() -> None:
    from livesession.evidence._outcome import _refusal_lines

    found = _BOTH_KINDS

    assert _refusal_lines(found) == [
        (
            "- Rails refused 5 order(s) the strategy asked for: `PER_TRADE_RISK` 5 time(s), the "
            "first in step 3; the session's own order checks refused 8 order(s): `QTY_BELOW_LOT` "
            "7 time(s), the first in step 3; `REDUCE_ONLY` 1 time(s), the first in step 3; 2 "
            'order(s) were sent in all (each rule: docs/risk.md, "The rails"; the table below '
            "counts them)."
        )
    ]


def test_burnins_rail_path_says_the_order_checks_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: `157 order(s) refused by a safety rail: QTY_BELOW_LOT 157` (burnin's rail
    row, and the evidence document's failure paths), of the session's own lot check."""
    config = tmp_path / "lot.toml"
    config.write_text(_BELOW_LOT, encoding="utf-8")
    assert main(["dryrun", "-c", str(config), "--out", str(tmp_path), "-q"]) == 0
    lenient = ("--min-signals", "0", "--min-decisions", "0", "--min-oco", "0")
    main(["burnin", str(tmp_path / "lot"), *lenient])
    capsys.readouterr()

    paths = orjson.loads((tmp_path / "lot" / "burnin.json").read_bytes())["failure_paths"]
    row = next(path for path in paths if path["path"] == "rail")

    assert (row["exercised"], row["count"]) == (True, 157)
    assert row["detail"] == (
        "157 order(s) refused: 157 by the session's own order checks (QTY_BELOW_LOT 157)"
    )


def test_the_run_line_says_the_refusals_when_no_order_was_sent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: `run  COMPLETED: ran its steps; sealed COMPLETED after 400 of 400 steps`, the
    line a reviewer reads first (``evidence``'s output, the manifest's ``run_ended``), of a
    run whose rail refused all 178 orders: it read as a run that traded."""
    config = tmp_path / "rail.toml"
    config.write_text(_TOO_LARGE, encoding="utf-8")
    assert main(["dryrun", "-c", str(config), "--out", str(tmp_path), "-q"]) == 0
    capsys.readouterr()

    assert main(["evidence", str(tmp_path / "rail"), "--out", str(tmp_path / "ev")]) == 0

    run_line = next(
        line for line in capsys.readouterr().out.splitlines() if line.startswith("run ")
    )
    assert run_line.split(None, 1)[1] == (
        "COMPLETED: ran its steps; sealed COMPLETED after 400 of 400 steps; rails refused "
        "178 order(s) (PER_TRADE_RISK 178), 0 sent"
    )
    manifest = orjson.loads(next((tmp_path / "ev").glob("manifest.json")).read_bytes())
    assert manifest["run_ended"]["said"].endswith(
        "rails refused 178 order(s) (PER_TRADE_RISK 178), 0 sent"
    )


def test_the_run_line_says_rails_and_order_checks_apart() -> None:
    from livesession.evidence._verdict import _refused

    found = _BOTH_KINDS

    assert _refused(found) == (
        "; rails refused 5 order(s) (PER_TRADE_RISK 5) and the session's own order checks "
        "refused 8 order(s) (QTY_BELOW_LOT 7, REDUCE_ONLY 1), 2 sent"
    )
    assert _refused({"refusals": None}) == ""


def test_the_tables_say_the_order_checks_apart_from_the_rails(tmp_path: Path) -> None:
    """Before: the document's table of checks and rails said `| rail | QTY_BELOW_LOT | 157 |`
    and the report's "Rails fired" listed `QTY_BELOW_LOT 157`, of the session's own check
    of the lot, where the lines above them already said it apart from the rails."""
    config = tmp_path / "lot.toml"
    config.write_text(_BELOW_LOT, encoding="utf-8")
    assert main(["dryrun", "-c", str(config), "--out", str(tmp_path), "-q"]) == 0

    document = write_evidence(tmp_path / "lot").document.read_text(encoding="utf-8")
    table = document[document.index("## Preflight checks and safety rails") :]
    table = table[: table.index("\n## ", 1)]
    page = render_report(tmp_path / "lot")
    fired = page[page.index("<h3>Rails fired</h3>") :]
    fired = fired[: fired.index("<h3>Orders the session's own checks refused</h3>")]
    refused = page[page.index("<h3>Orders the session's own checks refused</h3>") :]
    refused = refused[: refused.index("</table>")]

    assert "| rail | QTY_BELOW_LOT" not in table
    assert "| order check | QTY_BELOW_LOT | 157 |\n" in table
    assert (
        "An order check is the session's own (`QTY_BELOW_LOT`, `REDUCE_ONLY`, `PRICE_OFF_TICK`, "
        "`NO_MARKET_PRICE`): it fires by refusing an order no venue would take, not by a "
        "limit of `[risk]`."
    ) in table.splitlines()
    assert "QTY_BELOW_LOT" not in fired
    assert "No rail fired and no kill switch." in fired
    assert "<td>QTY_BELOW_LOT</td>" in refused


def test_a_run_no_order_check_refused_has_no_such_table(tmp_path: Path) -> None:
    config = tmp_path / "rail.toml"
    config.write_text(_TOO_LARGE, encoding="utf-8")
    assert main(["dryrun", "-c", str(config), "--out", str(tmp_path), "-q"]) == 0

    document = write_evidence(tmp_path / "rail").document.read_text(encoding="utf-8")
    page = render_report(tmp_path / "rail")

    assert "| rail | PER_TRADE_RISK | 178 |\n" in document
    assert "| order check |" not in document
    assert "An order check is" not in document
    assert "Orders the session's own checks refused" not in page
    fired = page[page.index("<h3>Rails fired</h3>") :]
    assert "<td>PER_TRADE_RISK</td>" in fired[: fired.index("</table>")]
