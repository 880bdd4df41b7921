"""Tests for ``livesession.report``: one self-contained, escaped HTML file per run."""

from __future__ import annotations

import html.parser
import re
import sys
from decimal import Decimal

import orjson
import pytest

from livesession import DryrunConfig, create_run
from livesession.report import render_report, write_report

from _runfactory import SCENARIOS, build_run

HOSTILE = "<script>alert('x')</script>\"&<img src=x onerror=alert(1)>"
SECTIONS = (
    "Verification",
    "Identity",
    "Limits, preflight checks and rails",
    "Key metrics",
    "Profit and loss",
    "Price, orders and fills",
    "Position and equity",
    "Trades",
    "Resumes, kills and operator events",
    "State timeline",
    "Rejects by reason",
)
URL_ATTRIBUTE = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


class _Collector(html.parser.HTMLParser):
    """Collects tags, attributes and text; fails on nothing, records everything."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes.extend(attrs)

    def handle_data(self, data):
        self.text.append(data)


def parse(document: str) -> _Collector:
    collector = _Collector()
    collector.feed(document)
    collector.close()
    return collector


@pytest.fixture(name="run")
def _run(tmp_path):
    return build_run(tmp_path / "run")


class TestSelfContained:
    """The report needs nothing but itself."""

    @pytest.mark.parametrize("scenario", SCENARIOS)
    def test_no_external_urls(self, tmp_path, scenario):
        """No src or href points anywhere, and no URL appears at all."""
        document = render_report(build_run(tmp_path / scenario, scenario=scenario))

        assert not URL_ATTRIBUTE.search(document)
        assert "http://" not in document
        assert "https://" not in document
        for name, value in parse(document).attributes:
            if name in ("src", "href"):
                pytest.fail(f"unexpected {name}={value!r}")

    def test_no_scripts_or_external_resources(self, run):
        """No script, link, iframe, object or img element; CSS is inline."""
        tags = set(parse(render_report(run)).tags)

        assert tags.isdisjoint({"script", "link", "iframe", "object", "embed", "img"})
        assert "style" in tags
        assert "svg" in tags

    def test_one_document(self, run):
        """The report is one HTML5 document with a charset."""
        document = render_report(run)

        assert document.startswith("<!DOCTYPE html>\n")
        assert document.endswith("</html>\n")
        assert '<meta charset="utf-8">' in document

    def test_it_prints_and_fits_a_narrow_window_without_losing_a_value(self, run):
        """Before, a hash or a config value wider than the page ran past its edge: cut off
        in a PDF (the strategy code's SHA-256, the realish fault rates), a sideways scroll in
        a narrow window; and printing had no rules of its own (a chart split over pages)."""
        style = render_report(run).split("<style>")[1].split("</style>")[0]

        assert re.search(r"\btd \{ overflow-wrap: anywhere; \}", style)
        assert re.search(r"td\.num \{[^}]*white-space: nowrap;", style)  # numbers stay whole
        printed = style.split("@media print {")[1]
        assert "svg, tr, .legend { break-inside: avoid; }" in printed
        assert "h2 { break-after: avoid; }" in printed

    def test_the_header_s_prose_wraps_between_words(self, run):
        """A long run id or hash still wraps, but a sentence breaks between its words.

        Before, the header's lines had ``word-break: break-all``: in a 1280-pixel window
        a STOP_INCOMPLETE run's header read ``the venue did n`` / ``ot confirm``, and a
        crashed run's ``after the last step re`` / ``corded``.
        """
        style = render_report(run).split("<style>")[1].split("</style>")[0]

        assert "break-all" not in style
        assert re.search(r"\bh1 \{[^}]*overflow-wrap: anywhere;", style)
        assert re.search(r"\.sub \{[^}]*overflow-wrap: anywhere;", style)

    def test_unique_ids(self, run):
        """Element ids are not repeated across the inline SVGs."""
        ids = [value for name, value in parse(render_report(run)).attributes if name == "id"]

        assert len(ids) == len(set(ids))


class TestContent:
    """The report shows what a reviewer needs."""

    def test_run_id_and_status(self, run):
        """The run id and status appear, and the report's own checks pass."""
        text = " ".join(parse(render_report(run)).text)

        assert "run-test-1" in text
        assert "COMPLETED" in text
        assert "Integrity checked:" in text
        assert "Verified:" not in text  # the full verifier did not run
        assert "livesession verify RUN_DIR" in text

    def test_full_verification(self, run):
        """With verify=True the verifier's verdict is shown; a VerifyResult is taken as is."""
        from livesession.verify import verify_run

        text = " ".join(parse(render_report(run, verify=True)).text)
        assert "Verified:" in text
        assert "Integrity checked:" not in text

        handed = verify_run(run)
        assert render_report(run, verify=handed) == render_report(run, verify=True)

    def test_sections(self, run):
        """Every section is present."""
        text = " ".join(parse(render_report(run)).text)

        for title in SECTIONS:
            assert title in text

    def test_charts(self, run):
        """Price, position, equity, drawdown and PnL are drawn; orders and the rail marked."""
        document = render_report(run)

        # price, position, equity, drawdown, realised PnL and unrealised PnL
        assert document.count("<polyline") == 6
        # three fills; the two partial fills of one order at one price share a marker
        assert document.count("<circle") == 2
        assert "2 fills here" in document
        assert document.count("ORDER_PARTIALLY_FILLED BUY 0.004") == 1
        assert document.count("ORDER_FILLED BUY 0.006") == 1
        assert document.count("ORDER_FILLED SELL 0.004") == 1
        assert "ORDER_SUBMITTED BUY 0.010" in document
        assert "ORDER_REJECTED SELL 0.004" in document
        assert document.count('class="rail"') == 1
        assert "RISK_REJECTED MAX_NOTIONAL BUY 5.000" in document

    def test_rejects_table(self, run):
        """Rejects are listed by source and reason."""
        text = " ".join(parse(render_report(run)).text)

        assert "MAX_NOTIONAL" in text
        assert "INSUFFICIENT_BALANCE" in text

    def test_failed_run(self, tmp_path):
        """A failed run shows FAILED and the operator states."""
        text = " ".join(parse(render_report(build_run(tmp_path / "r", scenario="fault"))).text)

        assert "FAILED" in text
        assert "ERROR_REQUIRES_OPERATOR" in text

    @pytest.mark.broken_run("it tampers with a run to show violations")
    def test_broken_run_lists_violations(self, run):
        """A tampered run still renders and lists its violations."""
        path = run / "events.jsonl"
        path.write_bytes(path.read_bytes().replace(b'"close":"42050.50"', b'"close":"99999.50"'))

        text = " ".join(parse(render_report(run)).text)

        assert "violation(s)" in text
        assert "events.jsonl" in text

    def test_empty_directory(self, tmp_path):
        """An empty directory renders a report that says what is missing."""
        text = " ".join(parse(render_report(tmp_path)).text)

        assert "No bars in this run." in text
        assert "metrics.json: missing" in text

    def test_without_jsonschema(self, run, monkeypatch):
        """Without the observability extra, --verify says it could not; own checks still run."""
        monkeypatch.setitem(sys.modules, "jsonschema", None)

        assert "Not fully verified" in render_report(run, verify=True)
        assert "Integrity checked:" in render_report(run, verify=True)
        assert "Not fully verified" not in render_report(run)

    def test_without_jsonschema_it_is_named_as_the_dependency_it_is(self, run, monkeypatch):
        """Bug: jsonschema is a dependency of livesession, not of an extra, but the report
        (and ``verify_run``'s refusal) told a user whose environment lost it to install the
        observability extra. Both now name jsonschema and say livesession depends on it."""
        from livesession import MissingExtra, verify_run

        monkeypatch.setitem(sys.modules, "jsonschema", None)
        page = render_report(run, verify=True)
        assert "observability" not in page
        assert (
            "Not fully verified: jsonschema, which livesession depends on for the JSON "
            "schemas, is missing from this environment: install it "
            "(<code>pip install jsonschema</code>)."
        ) in page
        with pytest.raises(MissingExtra) as caught:
            verify_run(run)
        assert str(caught.value) == (
            "jsonschema is not installed, though livesession depends on it: install it with "
            "`pip install jsonschema`"
        )

    def test_deterministic(self, run):
        """The same run gives the same bytes."""
        assert render_report(run) == render_report(str(run))


class TestEnding:
    """The header says how far the run got and, when it ended early, what ended it."""

    def _header(self, run_dir) -> str:
        text = " ".join(" ".join(parse(render_report(run_dir)).text).split())
        return text[: text.index("Verification")]

    def test_a_run_stopped_early_says_by_what(self, tmp_path):
        session = create_run(DryrunConfig(run_id="early", steps=400, durability="none"), tmp_path)
        session.preflight()
        session.activate()
        session.run_n_steps(137)
        session.request_stop("SIGNAL_SIGTERM", sealed_as=True)  # as the CLI stops on SIGTERM
        session.close()
        assert "COMPLETED · 137 of 400 steps, stopped: SIGNAL_SIGTERM" in self._header(
            tmp_path / "early"
        )

    def test_a_whole_run_says_only_its_steps(self, tmp_path):
        create_run(DryrunConfig(run_id="whole", steps=120, durability="none"), tmp_path).run_to_end(
            120
        )
        header = self._header(tmp_path / "whole")
        assert "COMPLETED · 120 of 120 steps" in header
        assert "stopped:" not in header

    @pytest.mark.parametrize(
        ("case", "said"),
        [
            ("whole", ("120 of 120 steps", "")),
            ("to_max_steps", ("120 of 120 steps", "")),
            ("closed_early", ("50 of 120 steps", "session closed")),
        ],
    )
    def test_the_report_and_the_evidence_tell_a_stop_alike(self, tmp_path, case, said):
        """A run that ran all its steps as its max_steps read "120 of 120 steps, stopped:
        max_steps reached" in the header, and every whole run's evidence "stopped:
        `session closed`" (which the header hid). Both now name the stop only of a run
        that ended early, an early close too."""
        from livesession._artifacts.runread import read_records
        from livesession.evidence._outcome import outcome, outcome_lines

        limit = {"max_steps": 120} if case == "to_max_steps" else {}
        cfg = DryrunConfig(run_id=case, steps=120, durability="none", **limit)
        session = create_run(cfg, tmp_path)
        session.preflight()
        session.activate()
        session.run_n_steps(50 if case == "closed_early" else 120)
        session.close()
        run_dir = tmp_path / case
        if case == "to_max_steps":  # the bound stopped it, on its last step
            assert b'"reason":"max_steps reached"' in (run_dir / "events.jsonl").read_bytes()
        steps, stop = said
        header = self._header(run_dir)
        told = "\n".join(
            outcome_lines(
                outcome(run_dir, read_records(run_dir / "events.jsonl")), run_dir.resolve()
            )
        )
        if stop:
            assert f"COMPLETED · {steps}, stopped: {stop} " in header
            assert f"after {steps}, stopped: `{stop}`." in told
        else:
            assert f"COMPLETED · {steps} " in header
            assert "stopped:" not in header
            assert f"after {steps}." in told
            assert "stopped:" not in told

    def test_a_faulted_run_says_its_fault(self, tmp_path):
        class Raises:
            strategy_id = "raises"

            def on_bar(self, bar, view):
                raise RuntimeError("model file missing")

            def get_state(self):
                return {}

            def set_state(self, state):
                pass

        cfg = DryrunConfig(run_id="fault", strategy_id="raises", steps=50, durability="none")
        create_run(cfg, tmp_path, strategy=Raises()).run_to_end(50, operator="cli")
        header = self._header(tmp_path / "fault")
        assert "FAILED · 1 of 50 steps, faulted: STRATEGY_ERROR" in header

    def test_a_faulted_run_names_its_error_and_message(self, tmp_path):
        # The header said only "faulted: STRATEGY_ERROR": the error and its message were in
        # the CLI's line, status and the evidence's "Run ended", not the report's headline.
        class Raises:
            strategy_id = "raises"

            def on_bar(self, bar, view):
                raise RuntimeError("weights <missing> & gone")

            def get_state(self):
                return {}

            def set_state(self, state):
                pass

        cfg = DryrunConfig(run_id="why", strategy_id="raises", steps=50, durability="none")
        create_run(cfg, tmp_path, strategy=Raises()).run_to_end(50, operator="cli")
        said = "faulted: STRATEGY_ERROR (RuntimeError: weights <missing> & gone)"
        assert f"FAILED · 1 of 50 steps, {said}" in self._header(tmp_path / "why")
        assert "(RuntimeError: weights &lt;missing&gt; &amp; gone)</p>" in render_report(
            tmp_path / "why"
        )


def _text(document: str) -> str:
    """The document's text, its whitespace runs made one space."""
    return " ".join(" ".join(parse(document).text).split())


def _section(text: str, title: str, following: str) -> str:
    return text[text.index(title) : text.index(following)]


class TestUnsealed:
    """A run that is not sealed (crashed, or still running) is shown as its events leave it.

    Before, its header said ``0 of 300 steps``, and its Key metrics "final equity 100000.00"
    and "final positions flat": the last state snapshot is the activation's, at step 0,
    until the seal. The events held 217 bars and a position of 0.010.
    """

    @pytest.mark.broken_run("the run crashes on purpose and is left unsealed")
    def test_a_crashed_run_says_what_its_events_show_and_never_final(self, tmp_path):
        from test_interrupts import _interrupt_after

        session = create_run(DryrunConfig(run_id="crashed", steps=300, durability="none"), tmp_path)
        _interrupt_after(session, 300, KeyboardInterrupt, written_out=True)  # holding a position
        with pytest.raises(KeyboardInterrupt), session:
            session.run_to_end(300)
        run_dir = tmp_path / "crashed"
        events = [
            orjson.loads(line) for line in (run_dir / "events.jsonl").read_bytes().splitlines()
        ]
        bars = [e["payload"] for e in events if e["event_type"] == "BAR"]
        cash, held = Decimal("100000.00"), Decimal(0)
        for e in events:
            if e["event_type"] in ("ORDER_FILLED", "ORDER_PARTIALLY_FILLED"):
                fill = e["payload"]
                signed = Decimal(fill["quantity"]) * (1 if fill["side"] == "BUY" else -1)
                cash, held = cash - signed * Decimal(fill["price"]), held + signed
        assert held != 0, "the crash must leave a position open for this test to mean anything"
        equity = cash + held * Decimal(bars[-1]["close"])
        last = orjson.loads((run_dir / "state_snapshots.jsonl").read_bytes().splitlines()[-1])
        assert last["step"] == 0, "the last snapshot is the activation's: the trap"

        text = _text(render_report(run_dir))
        header = text[: text.index("Verification")]
        assert f"RUNNING NOT SEALED · as of step {len(bars)} of 300 (the last step recorded)" in (
            header
        )
        metrics = _section(text, "Key metrics", "Profit and loss")
        assert "status RUNNING (not sealed)" in metrics
        claimed = orjson.loads((run_dir / "metrics.json").read_bytes())["steps"]
        assert claimed < len(bars), "metrics.json is the last checkpoint's"
        row = f"steps (bars) {len(bars)} (metrics.json, of the last checkpoint, says {claimed})"
        assert row in metrics
        at = f"at step {len(bars)} (not sealed;"
        # The exact equity, shown unrounded with at least two places (99,994.2705).
        shown = f"{equity:,.{max(2, -int(equity.normalize().as_tuple().exponent))}f}"
        assert f"equity {at} marked at its close) {shown}" in metrics
        assert f"positions {at} from the fills) BTC/USDT {held}" in metrics
        assert "final" not in metrics
        pnl = _section(text, "Profit and loss", "Price, orders and fills")
        assert f"equity {at} marked at its close) {shown}" in pnl
        assert "final" not in pnl
        # Its metrics.json is its last checkpoint's: the events going on past it are no
        # violation of each count (Key metrics show both).
        assert "events_by_type" not in text

    @pytest.mark.broken_run("the run crashes on purpose and is left unsealed")
    def test_a_crashed_run_s_checkpoint_counts_are_no_violation(self, tmp_path):
        """Its metrics.json is its last checkpoint's: the lines past it are no violation.

        Before, Verification listed ``metrics.json: events_emitted 1488, but events.jsonl
        has 1532`` for a run SIGKILLed as it traded (docs/report.md: a count metrics.json
        states differently is listed there for a sealed run). Fewer lines than the
        checkpoint counted are lines lost, and still listed.
        """
        from test_interrupts import _interrupt_after

        session = create_run(DryrunConfig(run_id="crashed", steps=300, durability="none"), tmp_path)
        _interrupt_after(session, 300, KeyboardInterrupt)
        with pytest.raises(KeyboardInterrupt), session:
            session.run_to_end(300)
        run_dir = tmp_path / "crashed"
        events = (run_dir / "events.jsonl").read_bytes().splitlines(keepends=True)
        claimed = orjson.loads((run_dir / "metrics.json").read_bytes())["events_emitted"]
        assert claimed < len(events), "the events must go on past the checkpoint"
        verification = _section(_text(render_report(run_dir)), "Verification", "Key metrics")
        assert "1 violation(s)" in verification, verification
        assert "no closing C2_DRYRUN_STOP record (incomplete run)" in verification
        assert "metrics.json:" not in verification

        (run_dir / "events.jsonl").write_bytes(b"".join(events[:5]))
        verification = _section(_text(render_report(run_dir)), "Verification", "Key metrics")
        assert f"metrics.json: events_emitted {claimed}, but events.jsonl has 5" in verification

    @pytest.mark.broken_run("the run crashes on purpose and is left unsealed")
    def test_a_crashed_run_is_said_to_be_no_running_run(self, tmp_path):
        """A run no process writes is said to have stopped unsealed, as ``status`` says it.

        Before, a run killed -9 at step 208 read ``status RUNNING NOT SEALED · as of step
        208 of 1,500`` and nothing more, where a live one adds who writes it: a reviewer
        took it for a run still going, while ``livesession status`` said ``crashed (exit
        6)`` and that ``resume`` continues it from its last checkpoint (step 200).
        """
        from livesession.status import Verdict, run_status
        from test_interrupts import _interrupt_after

        session = create_run(DryrunConfig(run_id="crashed", steps=300, durability="none"), tmp_path)
        _interrupt_after(session, 300, KeyboardInterrupt)
        with pytest.raises(KeyboardInterrupt), session:
            session.run_to_end(300)
        run_dir = tmp_path / "crashed"
        assert run_status(run_dir).verdict is Verdict.CRASHED
        checkpoint = orjson.loads((run_dir / "checkpoint.json").read_bytes())["steps"]
        text = _text(render_report(run_dir))
        header = text[: text.index("Verification")]
        assert "Not running: no process writes this run and it is not sealed" in header
        assert (
            "livesession status RUN_DIR says whether livesession resume RUN_DIR continues it "
            f"from its last checkpoint (step {checkpoint:,})"
        ) in header

    @pytest.mark.broken_run("the seal's snapshot loses its open_orders on purpose")
    def test_open_orders_a_snapshot_does_not_record_are_not_said_none(self, run):
        """``final open orders`` is the seal's list; a snapshot without one claims nothing."""
        assert "<td>final open orders</td><td>none</td>" in render_report(run)
        path = run / "state_snapshots.jsonl"
        lines = path.read_bytes().splitlines()
        last = orjson.loads(lines[-1])
        del last["open_orders"]
        path.write_bytes(b"\n".join([*lines[:-1], orjson.dumps(last)]) + b"\n")
        assert "<td>final open orders</td><td>(not recorded)</td>" in render_report(run)

    def test_a_sealed_run_keeps_its_final_values(self, run):
        """The seal's snapshot is the end: final equity and positions, no NOT SEALED."""
        text = _text(render_report(run))
        assert "NOT SEALED" not in text
        metrics = _section(text, "Key metrics", "Profit and loss")
        assert "final equity " in metrics
        assert "final positions " in metrics


class TestMetricsCounts:
    """Key metrics count from the events; metrics.json saying otherwise is flagged.

    Before, ``fills`` edited in metrics.json from 3 to 4 showed as 4 under "Integrity
    checked: the audit chain is whole", beside the Profit and loss section's 3 fills.
    """

    @pytest.mark.broken_run("metrics.json is tampered with on purpose")
    @pytest.mark.parametrize(
        ("field", "row"),
        [("fills", "fills"), ("steps", "steps (bars)"), ("orders_submitted", "orders submitted")],
    )
    def test_a_tampered_count_is_flagged_not_shown(self, run, field, row):
        path = run / "metrics.json"
        metrics = orjson.loads(path.read_bytes())
        true = metrics[field]
        metrics[field] = true + 1
        path.write_bytes(orjson.dumps(metrics, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2))

        text = _text(render_report(run))

        assert "Integrity checked:" not in text
        assert f"metrics.json: {field} {true + 1}, but events.jsonl has {true}" in text
        metrics_section = _section(text, "Key metrics", "Profit and loss")
        assert f"{row} {true} (metrics.json says {true + 1})" in metrics_section

    @pytest.mark.broken_run("metrics.json is tampered with on purpose")
    def test_a_tampered_count_by_type_is_flagged(self, run):
        path = run / "metrics.json"
        metrics = orjson.loads(path.read_bytes())
        true = metrics["events_by_type"]["ORDER_FILLED"]
        metrics["events_by_type"]["ORDER_FILLED"] = true + 1
        path.write_bytes(orjson.dumps(metrics, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2))

        text = _text(render_report(run))

        assert "Integrity checked:" not in text
        assert (
            f"metrics.json: events_by_type ORDER_FILLED {true + 1}, but events.jsonl has {true}"
        ) in text


@pytest.mark.broken_run("config.json or run.json is changed after the run on purpose")
class TestOutsideTheChain:
    """config.json and run.json, outside the audit chain, are held to what the run recorded.

    Before, a config.json whose max_order_qty was lowered from 1 to 0.5 after the run showed
    its forged limit under "Integrity checked: the audit chain is whole" (verify names it,
    and evidence refuses the run), and so did a run.json naming another version.
    """

    @pytest.fixture(name="real_run")
    def _real_run(self, tmp_path):
        create_run(DryrunConfig(run_id="held", steps=40, durability="none"), tmp_path).run_to_end(
            40
        )
        return tmp_path / "held"

    def test_the_run_as_written_is_checked(self, real_run):
        assert "Integrity checked:" in _text(render_report(real_run))

    def test_a_limit_changed_in_config_json_is_flagged(self, real_run):
        path = real_run / "config.json"
        path.write_bytes(
            path.read_bytes().replace(b'"max_order_qty": "1"', b'"max_order_qty": "0.5"')
        )

        text = _text(render_report(real_run))

        assert "Integrity checked:" not in text
        assert "config.json: not the config the run recorded as it started" in text

    @pytest.mark.parametrize("name", ["config.json", "checkpoint.json"])
    def test_a_file_the_run_kept_removed_is_flagged(self, real_run, name):
        """As verify says it: a run livesession made keeps both once it has stepped."""
        (real_run / name).unlink()

        text = _text(render_report(real_run))

        assert "Integrity checked:" not in text
        assert f"{name}: missing, but " in text

    def test_another_version_in_run_json_is_flagged(self, real_run):
        path = real_run / "run.json"
        meta = orjson.loads(path.read_bytes())
        meta["version"] = "9.9.9"
        path.write_bytes(orjson.dumps(meta, option=orjson.OPT_SORT_KEYS))

        text = _text(render_report(real_run))

        assert "Integrity checked:" not in text
        assert "run.json: run.json says livesession 9.9.9, but the run's audited record" in text


class TestEscaping:
    """Text from the run is data, never markup."""

    def test_hostile_strategy_id(self, tmp_path):
        """A strategy id full of markup is shown verbatim and escaped."""
        document = render_report(build_run(tmp_path / "r", strategy_id=HOSTILE))
        parsed = parse(document)

        assert "<script>" not in document
        assert "<img" not in document
        assert "script" not in parsed.tags
        assert "img" not in parsed.tags
        assert HOSTILE in "".join(parsed.text)

    def test_a_content_security_policy_forbids_script_and_fetches(self, tmp_path):
        """The page says itself that it runs no script and fetches nothing (docs/report.md).

        Found reading the report of a hostile run: its escaping held, but nothing else
        stood behind the promise; one missed escape would have run a run's ``<script>``.
        The policy, first in ``<head>``, holds a browser to it: inline CSS only.
        """
        document = render_report(build_run(tmp_path / "r"))
        head = document.split("<title>")[0]

        assert (
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            "style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'\">"
        ) in head

    def test_bidi_controls_are_shown_not_obeyed(self, tmp_path):
        """A strategy id with bidi controls cannot reorder the report's text around it.

        Found by running the reviewer tools on a hostile run: ``strategy_id = "ab\u202ecd"``
        (RIGHT-TO-LEFT OVERRIDE, which the config takes) went into the report as it is, and a
        browser drew the rest of its line (``status COMPLETED ...``) right to left. Each bidi
        control is written as its escape, the way a terminal line shows a control.
        """
        controls = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
        document = render_report(build_run(tmp_path / "r", strategy_id="ab" + controls + "cd"))

        assert not set(controls) & set(document)
        assert "ab\\u202a\\u202b" in document
        assert "\\u061ccd" in document

    @pytest.mark.broken_run("it writes hostile text into a run's events")
    def test_hostile_symbol_and_reason(self, tmp_path):
        """Markup in symbols and reasons is escaped in tables, labels and tooltips."""
        run = build_run(tmp_path / "r")
        for name in ("events.jsonl", "state_snapshots.jsonl"):
            path = run / name
            path.write_bytes(path.read_bytes().replace(b"BTCUSDT", b"<i>BTC</i>&USDT"))

        document = render_report(run)

        assert "<i>" not in document
        assert "&lt;i&gt;BTC&lt;/i&gt;&amp;USDT" in document


class TestWriteReport:
    """The report file is replaced atomically."""

    def test_write(self, run, tmp_path):
        """The file holds the rendered report and no temporary file is left."""
        target = tmp_path / "out" / "report.html"
        target.parent.mkdir()

        write_report(run, target)

        assert target.read_text(encoding="utf-8") == render_report(run)
        assert [p.name for p in target.parent.iterdir()] == ["report.html"]


@pytest.mark.broken_run("it breaks a run to count its violations")
class TestVerdictCounts:
    """The report's own checks count as ``verify`` does, and say how many are not listed."""

    def test_a_repeated_line_is_one_seq_problem_as_verify_says(self, tmp_path):
        """One duplicated event line read as 2,733 violations (every later line's ``seq``
        was held to its line number), while verify said 6: ``seq`` is held to the highest
        before it, with verify's own words."""
        from livesession.verify import verify_run

        run = build_run(tmp_path / "run", bars=60)
        events = run / "events.jsonl"
        lines = events.read_bytes().splitlines(keepends=True)
        lines.insert(40, lines[39])
        events.write_bytes(b"".join(lines))

        text = _text(render_report(run))
        verified = verify_run(run)

        said = [v for v in verified.violations if v.startswith("events.jsonl:") and "seq" in v]
        assert said == ["events.jsonl:41: seq is 40, expected 41 (repeated or out of order)"]
        assert said[0] in text
        assert text.count("seq is") == 1  # not one for each of the 48 lines after it

    def test_the_hidden_are_counted_from_the_total(self, tmp_path):
        """With 2,733 found and 50 listed, it said "... and 4 more" (the listed lines less
        those shown): it is the total less those shown."""
        from livesession.report._scan import scan

        run = build_run(tmp_path / "run")
        events = run / "events.jsonl"
        events.write_bytes(events.read_bytes() + b"not json\n" * 300)
        total = scan(run).integrity.total

        text = _text(render_report(run))

        assert total > 300
        assert f"{total:,} violation(s): this run is broken or incomplete." in text
        assert f"... and {total - 50:,} more." in text


@pytest.mark.broken_run("its metrics.json is emptied, cut or removed on purpose")
@pytest.mark.parametrize("damage", ["empty", "half", "list", "removed"])
def test_a_broken_metrics_json_is_said_as_verify_says_it(tmp_path, damage):
    """An empty or half-written metrics.json was reported as "metrics.json: missing"."""
    from livesession.verify import verify_run

    run = build_run(tmp_path / "run")
    metrics = run / "metrics.json"
    whole = metrics.read_bytes()
    if damage == "removed":
        metrics.unlink()
    else:
        metrics.write_bytes(
            {"empty": b"", "half": whole[: len(whole) // 2], "list": b"[]\n"}[damage]
        )

    said = next(v for v in verify_run(run).violations if v.startswith("metrics.json"))
    text = _text(render_report(run))

    assert said in text
    assert ("metrics.json: missing" in text) is (damage == "removed")


def test_a_live_run_with_no_checkpoint_yet_is_not_called_checked(tmp_path):
    """A live run is read up to its last checkpoint; with none yet nothing is read, and the
    report said "Integrity checked: the audit chain is whole" of nothing."""
    from _helpers import held_by_a_child

    run = build_run(tmp_path / "run")
    assert not (run / "checkpoint.json").exists()
    with held_by_a_child(run):
        text = _text(render_report(run))

    assert "Not checked yet: a live run is read and checked up to its last checkpoint" in text
    assert "Integrity checked" not in text


@pytest.mark.broken_run("its final snapshot's equity is rewritten in more places")
def test_every_amount_is_shown_by_one_formatter(tmp_path):
    """Key metrics said "final equity 99947.08240" (the snapshot's text) where Profit and
    loss said "99,947.0824": each amount now reads the same wherever it is shown."""
    run = build_run(tmp_path / "run")
    snapshots = run / "state_snapshots.jsonl"
    lines = snapshots.read_bytes().splitlines()
    final = orjson.loads(lines[-1])
    final["equity"] = "10001.81000"  # as the session writes it: places of its own
    lines[-1] = orjson.dumps(final, option=orjson.OPT_SORT_KEYS)
    snapshots.write_bytes(b"\n".join(lines) + b"\n")

    text = _text(render_report(run))

    metrics = _section(text, "Key metrics", "Profit and loss")
    pnl = _section(text, "Profit and loss", "Price, orders and fills")
    timeline = _section(text, "State timeline", "Rejects by reason")
    assert "final equity 10,001.81 " in metrics
    assert "final equity (marked at the last close) 10,001.81 " in pnl
    assert "10001.81" not in text
    assert timeline.count("10,000.00") == 3
    assert timeline.count("10,001.81") == 3
