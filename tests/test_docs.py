"""Examples in the docs run as written; the public API is complete and sorted."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

import pytest

import livesession
import livesession.testing
from _pages import OPERATOR_PAGES, operator_flat, operator_text

# The public modules examples may import from, and what each exports.
_PUBLIC_MODULES = {
    "livesession": livesession.__all__,
    "livesession.testing": livesession.testing.__all__,
}
ROOT = Path(__file__).resolve().parent.parent
_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
_PAGES = (
    "README.md",
    "RUNBOOK.md",
    *(f"docs/{page.name}" for page in (ROOT / "docs").glob("*.md")),
)


def _python_blocks(path: Path) -> list[str]:
    return _BLOCK.findall(path.read_text(encoding="utf-8"))


def _run(
    code: str, cwd: Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run an example as a reader would, with a ``TMPDIR`` of its own it must leave empty.

    Bug: the examples made their directories with ``tempfile.mkdtemp()`` and never removed
    them, so each run of this file left directories in ``/tmp``, as the reader's copy does.
    An example cleans up after itself (``tempfile.TemporaryDirectory()``); the ``TMPDIR``
    is removed here whatever the example left.
    """
    with tempfile.TemporaryDirectory(prefix="docs-tmpdir-") as scratch:
        proc = subprocess.run(
            [sys.executable, "-c", code],
            cwd=cwd,
            env={**(os.environ if env is None else env), "TMPDIR": scratch},
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        left = sorted(path.name for path in Path(scratch).iterdir())
    assert not left, f"the example left {left} in its TMPDIR:\n{code}\n{proc.stderr}"
    return proc


class TestRunbookInvocation:
    def test_runs_as_written_and_writes_four_artifacts(self, tmp_path):
        """The C2 runbook's operator invocation, importing from livesession, runs unchanged."""
        text = (ROOT / "RUNBOOK.md").read_text(encoding="utf-8")
        block = text.split("<!-- BEGIN RUNBOOK INVOCATION -->")[1].split(
            "<!-- END RUNBOOK INVOCATION -->"
        )[0]
        (code,) = _BLOCK.findall(block)
        assert "from livesession import DryrunConfig, LiveSessionOrchestrator" in code
        proc = _run(code, tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout) == {
            "accepted": True,
            "run_id": "run_demo_001",
            "status": "COMPLETED",
        }
        run_dir = tmp_path / "out" / "finish_c" / "c2" / "run_demo_001"
        for name in ("events.jsonl", "state_snapshots.jsonl", "metrics.json", "audit.jsonl"):
            assert (run_dir / name).stat().st_size > 0, name
        metrics = json.loads((run_dir / "metrics.json").read_text())
        assert metrics["events_emitted"] == len(
            (run_dir / "events.jsonl").read_bytes().splitlines()
        )


def _months(stamp: str, header: str | None) -> dict[str, str]:
    """Three months' files of two minute bars each, the first month's last bar written again
    as the second month's first (its export ran to the next month's first minute), named
    ``stamp`` with ``{m}`` for the month; each opens with ``header``, if given."""
    times = {
        "01": ("2024-01-31T23:58:00Z", "2024-01-31T23:59:00Z"),
        "02": ("2024-01-31T23:59:00Z", "2024-02-29T23:59:00Z"),  # the leap day's last minute
        "03": ("2024-03-01T00:00:00Z", "2024-03-01T00:01:00Z"),
    }
    files = {}
    for month, pair in times.items():
        rows = [
            f"{_epoch_ms(at) if header is None else at},{42100 + int(at[14:16])}.5,42170.0,"
            f"42050.0,42105.0,3.1"
            for at in pair
        ]
        files[stamp.format(m=month)] = (header or "") + "".join(f"{row}\n" for row in rows)
    return files


def _epoch_ms(text: str) -> str:
    import datetime as dt

    return str(int(dt.datetime.fromisoformat(text).timestamp() * 1000))


class TestPeriodJoin:
    def test_the_join_of_a_quarter_s_month_files_runs_as_written(self, tmp_path):
        """docs/data.md, "A period in several files": the ``awk`` joins of month files with a
        header each and without one (Binance's) make one file each, the bar two months both
        hold written once, and the quarter's run plays every bar of it."""
        text = (ROOT / "docs/data.md").read_text(encoding="utf-8")
        block = text.split("<!-- BEGIN PERIOD JOIN -->")[1].split("<!-- END PERIOD JOIN -->")[0]
        (script,) = re.findall(r"```bash\n(.*?)```", block, re.DOTALL)
        binance = _months("BTCUSDT-1m-2024-{m}.csv", None)
        binance = {name: body.replace("\n", ",1,2,3,4,5,6\n") for name, body in binance.items()}
        files = {
            **_months("desk-2024-{m}.csv", "timestamp,open,high,low,close,volume\n"),
            **binance,
        }
        for name, body in files.items():
            (tmp_path / name).write_text(body, encoding="utf-8")
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        proc = subprocess.run(
            ["bash", "-e", "-c", script],
            cwd=tmp_path,
            env={**os.environ, "PATH": path},
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
        assert "status      COMPLETED (FEED_EXHAUSTED)" in proc.stdout
        for joined in ("desk-2024-q1.csv", "btcusdt-2024-q1.csv"):
            check = livesession.check_csv(tmp_path / joined, tick=None)
            assert check.rows == 5, joined  # six rows, one of them written twice
        desk = (tmp_path / "desk-2024-q1.csv").read_text(encoding="utf-8").splitlines()
        assert desk[0] == "timestamp,open,high,low,close,volume"
        assert desk[1:] == [row for row in desk[1:] if not row.startswith("timestamp")]
        run = json.loads((tmp_path / "out/runs/q1-2024/run.json").read_text(encoding="utf-8"))
        assert run["data"]["rows"] == 5


class TestEdgeDefaults:
    def test_the_table_says_what_a_session_without_edges_does(self):
        """Bug: docs/embedding.md said every edge has a default and gave audit_sink's as
        memory, but a session built from a config alone is rejected at preflight
        (AUDIT_SINK_MISSING): the audit log is required evidence, by design. The page says
        so, and every other edge does have its default."""
        text = (ROOT / "docs/embedding.md").read_text(encoding="utf-8")
        rows = {
            cells[1].strip(): cells[3].strip()
            for cells in (line.split("|") for line in text.splitlines())
            if len(cells) == 5 and cells[1].strip().startswith("`")
        }
        assert "AUDIT_SINK_MISSING" in rows["`audit_sink`"], rows
        assert "every one but `audit_sink` has a default" in text
        bare = livesession.LiveSessionOrchestrator(
            livesession.DryrunConfig(run_id="defaults", steps=10)
        ).run_to_end(10)
        assert (bare.status.value, bare.reason) == ("REJECTED", "AUDIT_SINK_MISSING")
        audited = livesession.LiveSessionOrchestrator(
            livesession.DryrunConfig(run_id="audited", steps=10),
            audit_sink=livesession.MemoryLineSink(),
        ).run_to_end(10)
        assert audited.status.value == "COMPLETED"

    def test_the_table_names_every_edge_the_orchestrator_takes(self):
        """Bug: the table under "every one but `audit_sink` has a default" named 11 of the
        19 keywords ``LiveSessionOrchestrator`` takes: ``rails``, ``checks``,
        ``retry_policy``, ``alerts``, ``lease``, ``lease_clock``, ``lease_holder`` and
        ``live_override`` and their defaults were in no row. The rows are the edges."""
        from livesession._session.edges import SessionEdges

        text = (ROOT / "docs/embedding.md").read_text(encoding="utf-8")
        rows = [
            cells[1]
            for cells in (line.split("|") for line in text.splitlines())
            if len(cells) == 5 and cells[1].strip().startswith("`")
        ]
        named = [name for cell in rows for name in re.findall(r"`(\w+)`", cell)]
        assert sorted(named) == sorted(SessionEdges.__annotations__)


_RUN_AS_THEY_ARE = ("README.md", "docs/data.md", "docs/embedding.md", "docs/plugins.md")
"""The pages whose python blocks ``TestExamples`` runs, each on its own."""
_RUN_ON_LOOPBACK = ("docs/ccxt.md", "docs/postgres.md")
"""The pages whose python blocks ``test_docs_backends`` runs, each on its own: on the
loopback venue, and against the tests' PostgreSQL server."""
_RUN_BETWEEN = {
    "RUNBOOK.md": ("RUNBOOK INVOCATION",),  # here
    "docs/operations.md": ("ALERT",),  # test_alerts
    "docs/testing.md": ("TESTING EXAMPLE",),  # test_testing_kit, by pytest as a user would
}
"""The blocks a test runs by the ``<!-- BEGIN name -->`` ... ``<!-- END name -->`` around it."""


class TestExamples:
    @pytest.mark.parametrize("doc", _RUN_AS_THEY_ARE)
    def test_every_python_example_runs(self, tmp_path, doc):
        """Each python block of the page runs without error."""
        blocks = _python_blocks(ROOT / doc)
        assert blocks
        for code in blocks:
            proc = _run(code, tmp_path)
            assert proc.returncode == 0, f"{doc}:\n{code}\n{proc.stderr}"

    def test_every_python_block_of_every_page_is_run_by_a_test(self):
        """The docs' rule: a python example is run by a test. docs/postgres.md's and
        docs/ccxt.md's were run by none (one used names it never set); a block added to a
        page no test runs the blocks of fails here, until a test runs it."""
        unrun = []
        for page in _PAGES:
            text = (ROOT / page).read_text(encoding="utf-8")
            if page in (*_RUN_AS_THEY_ARE, *_RUN_ON_LOOPBACK):
                continue
            for name in _RUN_BETWEEN.get(page, ()):
                begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
                inside = text.split(begin, 1)[1].split(end, 1)[0]
                assert len(_BLOCK.findall(inside)) == 1, f"{page}: {name}"
                text = text.replace(begin + inside + end, "")
            unrun += [f"{page}: {code.splitlines()[0]}" for code in _BLOCK.findall(text)]
        assert not unrun, f"python blocks no test runs: {unrun}"


class TestAsyncioSigterm:
    def test_the_recipe_gives_the_applications_handler_back(self, tmp_path):
        """Bug: docs/embedding.md told an asyncio service with a SIGTERM handler of its own
        to add one on the loop, and no more: asyncio puts SIGTERM's default action back
        when its handler is removed or the loop closed, so after the run the application's
        handler was gone and the next SIGTERM killed the process. The page's example
        stops the session from the loop and puts the application's handler back."""
        text = (ROOT / "docs/embedding.md").read_text(encoding="utf-8")
        (code,) = [
            block
            for block in _python_blocks(ROOT / "docs/embedding.md")
            if "add_signal_handler" in block
        ]
        assert "not the handler your application had" in text
        assert code.index("remove_signal_handler") < code.index(
            "signal.signal(signal.SIGTERM, on_sigterm)  # so put"
        )
        assert "assert signal.getsignal(signal.SIGTERM) is on_sigterm" in code
        proc = _run(code, tmp_path)
        assert proc.returncode == 0, proc.stderr


def _embedding_section(title: str) -> str:
    """The section of docs/embedding.md under ``## title`` (``# title``: the page's head)."""
    text = "\n" + (ROOT / "docs" / "embedding.md").read_text(encoding="utf-8")
    marker = f"\n# {title}\n" if f"\n# {title}\n" in text else f"\n## {title}\n"
    return text.split(marker, 1)[1].split("\n## ", 1)[0]


def test_the_arguments_create_run_and_resume_run_check_are_their_keywords():
    """Bug: docs/embedding.md said ``create_run`` and ``resume_run`` both check ``clock``,
    ``lease_clock``, ``alerts``, ``broker_factory``, ``live_override`` and ``lease``, but
    ``resume_run`` takes neither of the last two (and ``create_run``'s
    ``idempotency_backend`` and ``store`` were left out). The page lists each function's
    own keyword arguments, as its signature has them."""
    import inspect

    flat = " ".join(_embedding_section("Embedding livesession").split())
    found = re.search(
        r"before they write anything: `create_run` its (.*?), `resume_run` its (.*?) \(", flat
    )
    assert found, "docs/embedding.md no longer says what create_run and resume_run check"
    for function, listed in zip(
        (livesession.create_run, livesession.resume_run), found.groups(), strict=True
    ):
        keywords = [
            p.name
            for p in inspect.signature(function).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY
        ]
        assert re.findall(r"`(\w+)`", listed) == keywords, function.__name__


def test_the_asyncio_section_names_every_public_name_of_an_async_session():
    """Bug: ``verb_result`` gave the latest call of a verb only, and nothing gave the
    others; ``verb_results`` now does. The asyncio section names each public method and
    attribute of ``AsyncSession``, and says which of the two gives one call's result and
    which every call's."""
    from livesession.aio import AsyncSession

    section = _embedding_section("asyncio")
    public = {name for name in dir(AsyncSession) if not name.startswith("_")} | {"run_dir"}
    assert "verb_results" in public
    flat = " ".join(section.split())
    prose = re.sub(r"```.*?```", " ", flat)
    code = " ".join(re.findall(r"`[^`]+`", prose))  # what its prose shows as code
    missing = sorted(name for name in public if not re.search(rf"\b{name}\b", code))
    assert not missing, f"docs/embedding.md's asyncio section does not name {missing}"
    assert "the latest `kill()` only" in flat
    assert "gives every `kill()`'s, one per call in the order they were called" in flat


def test_the_asyncio_section_says_what_an_in_memory_session_without_an_audit_sink_does():
    """Bug: the asyncio section said ``open_session(config, **edges)`` keeps the session in
    memory, with nothing of the audit sink the top of the page requires: ``open_session(
    config)`` as written raised ``LiveSessionError`` on entering the block."""
    import asyncio

    from livesession import DryrunConfig, LiveSessionError, MemoryLineSink, open_session

    async def enter(**edges: object) -> int:
        async with open_session(DryrunConfig(run_id="in-memory", steps=5), **edges) as session:
            return await session.run_steps(5)

    with pytest.raises(LiveSessionError, match="AUDIT_SINK_MISSING"):
        asyncio.run(enter())
    assert asyncio.run(enter(audit_sink=MemoryLineSink())) == 5
    flat = " ".join(_embedding_section("asyncio").split())
    assert (
        "without one the preflight rejects it, `AUDIT_SINK_MISSING`, and entering the block" in flat
    )


class TestDocsUsePublicApi:
    @pytest.mark.parametrize("doc", sorted(_PAGES))
    def test_no_private_module_is_named(self, doc):
        """No page tells users to import from a private module (`livesession._x`)."""
        text = (ROOT / doc).read_text(encoding="utf-8")
        private = sorted(set(re.findall(r"livesession\._[A-Za-z_.]*", text)))
        assert not private, f"{doc} names private modules {private}: export from livesession"

    @pytest.mark.parametrize("doc", sorted(_PAGES))
    def test_every_imported_name_is_exported(self, doc):
        """Examples import from `livesession` only, and only names it exports.

        Some examples need credentials or a database and are not run; this catches a name
        they use going missing from the public API all the same.
        """
        for code in _python_blocks(ROOT / doc):
            for node in ast.walk(ast.parse(code)):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    "livesession"
                ):
                    exported = _PUBLIC_MODULES.get(node.module or "")
                    assert exported is not None, f"{doc}: from {node.module} import"
                    missing = {a.name for a in node.names} - set(exported)
                    assert not missing, f"{doc}: {node.module} does not export {sorted(missing)}"


class TestPublicApi:
    def test_all_is_sorted_and_complete(self):
        """__all__ is sorted, every name in it resolves, and nothing public is left out."""
        assert livesession.__all__ == sorted(livesession.__all__)
        assert set(livesession._LAZY) == set(livesession.__all__)
        for name in livesession.__all__:
            assert getattr(livesession, name) is not None
        public = {
            name
            for name in vars(livesession)
            if not name.startswith("_")
            and name not in ("annotations", "importlib", "TYPE_CHECKING", "Any")
            and not isinstance(getattr(livesession, name), type(sys))
        }
        assert public <= set(livesession.__all__)
        with pytest.raises(AttributeError):
            _ = livesession.NoSuchName

    def test_import_is_light(self):
        """`import livesession` loads neither the orchestrator nor attrs-heavy modules."""
        code = "import sys, livesession; print('livesession._session.coordinator' in sys.modules)"
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert proc.stdout.strip() == "False"

    def test_protocols_have_protocol_docstrings(self):
        """Every protocol's docstring starts with **Protocol:**."""
        from livesession import _typing

        for name in _typing.__all__:
            doc = getattr(_typing, name).__doc__ or ""
            assert doc.startswith("**Protocol:**"), name


class TestRunbookExitCodes:
    def test_the_table_lists_every_exit_code_the_cli_uses(self):
        """RUNBOOK's exit-code table and cli.py's EXIT_* constants name the same codes."""
        from livesession import cli

        text = (ROOT / "RUNBOOK.md").read_text(encoding="utf-8")
        section = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
        first_cells = [
            line.split("|")[1].strip() for line in section.splitlines() if line.startswith("| ")
        ]
        codes = {int(cell) for cell in first_cells if cell.isdigit()}
        constants = {value for name, value in vars(cli).items() if name.startswith("EXIT_")}
        assert codes == constants, f"RUNBOOK lists {sorted(codes)}, cli.py uses {sorted(constants)}"
        assert "SIGTERM" in first_cells, "say what SIGTERM does"
        epilog = cli.build_parser().epilog or ""
        assert all(f"{code} " in epilog for code in constants), "--help names every code"

    def test_stop_kill_and_ack_codes_are_the_ones_the_cli_returns(self):
        """RUNBOOK's table, its "Acting on a live run" text and each command's --help give
        stop/kill/ack the codes cmd_control returns (the text once said 5 and 6 for 8 and 9).
        Only stop can end with the run sealed FAILED (4): kill and ack do not wait for a seal.
        """
        import argparse
        import re

        from livesession import _cli_commands, cli

        every = set(_cli_commands._CONTROL_EXITS.values())
        expected = {"stop": every, "kill": every - {cli.EXIT_FAILED}}
        expected["ack"] = expected["kill"]
        text = (ROOT / "RUNBOOK.md").read_text(encoding="utf-8")
        section = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
        table: dict[str, set[int]] = {verb: set() for verb in expected}
        for line in section.splitlines():
            cells = line.split("|")
            if not line.startswith("| ") or not cells[1].strip().isdigit():
                continue
            named = re.match(r"((?:`(?:stop|kill|ack)`(?:, )?)+)[: ]", cells[2].strip())
            for verb in re.findall(r"`(\w+)`", named.group(1)) if named else []:
                table[verb].add(int(cells[1]))
        assert table == expected, "RUNBOOK's exit-code table"
        live = text.split("## Acting on a live run", 1)[1].split("\n## ", 1)[0]
        said = re.search(r"exits with the\s+code in the [^(]*\(([^)]*)\)", live)
        assert said is not None, "RUNBOOK's Acting on a live run names the codes"
        listed = {int(m) for m in re.findall(r"(?:^|, )(\d+) ", said.group(1))}
        assert listed == every, said.group(0)
        parser = cli.build_parser()
        [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        for verb, codes in expected.items():
            description = sub.choices[verb].description or ""
            helped = description.split("Exit codes: ", 1)[1]
            assert {int(m) for m in re.findall(r"(?:^|, )(\d+) ", helped)} == codes, verb


class TestOperatorSection:
    def test_reconcile_mismatch_has_a_bullet_naming_every_difference_it_escalates(self):
        """RUNBOOK "When a session is in ERROR_REQUIRES_OPERATOR" had no bullet for
        RECONCILE_MISMATCH, the fault of a venue whose reports stop coming: the on-call
        operator found what each escalated difference means, and what to do, nowhere. The
        bullet names every kind the reconciler escalates (an orphan OCO leg it cancels)."""
        from livesession._reconcile.reconciler import DiscrepancyKind

        escalated = {k.value for k in DiscrepancyKind} - {"ORPHAN_OCO_SIBLING"}
        for page in OPERATOR_PAGES:  # the short bullet, and the case in detail
            text = page.read_text(encoding="utf-8")
            section = text.split("## When a session is in ERROR_REQUIRES_OPERATOR", 1)[1]
            section = section.split("\n## ", 1)[0]
            (bullet,) = [
                b for b in section.split("\n- ") if b.startswith("**`RECONCILE_MISMATCH`**")
            ]
            assert {kind for kind in escalated if f"`{kind}`" in bullet} == escalated, page
            assert "C2_RECONCILE_ESCALATED" in bullet, page
            assert "only the book's" in bullet, page

    def test_every_reason_a_session_faults_with_has_a_bullet(self):
        """The CLI sends the operator to "When a session is in ERROR_REQUIRES_OPERATOR" for
        every fault (`status`'s `next`, `stop`'s line after `STOP_INCOMPLETE`), but the
        section had no bullet for `STOP_INCOMPLETE`, `CLOCK_REGRESSION`, the book's
        invariants, `SINK_WRITE_FAILED` or `LEASE_LOST`: what each means and what to do was
        nowhere there. Every reason the session's code faults with is read from the code
        (a literal, or a module constant it names) and must head a bullet, and be named in
        the section's opening list of reasons."""
        package = ROOT / "src" / "livesession"
        paths = [*(package / "_session").glob("*.py"), package / "_domain" / "reasons.py"]
        code = "\n".join(path.read_text(encoding="utf-8") for path in paths)
        constants = dict(re.findall(r'(?m)^(_?[A-Z][A-Z_]+)(?:: Final)? = "([A-Z_]+)"$', code))
        said = set(re.findall(r'\b_?fault\(\s*"([A-Z][A-Z_]+)"', code))
        said |= set(re.findall(r'return "(INVARIANT_[A-Z_]+)"', code))
        named = re.findall(
            r"\b(?:fault|_fault|halt_and_fault|input_failed)\(\s*(?:\w+,\s*)?(_?[A-Z][A-Z_]+)\b",
            code,
        )
        said |= {constants[name] for name in named}
        assert {"STOP_INCOMPLETE", "CLOCK_REGRESSION", "LEASE_LOST", "SINK_WRITE_FAILED"} <= said
        assert {"INVARIANT_POSITION", "RECONCILE_MISMATCH", "UNEXPECTED_ERROR"} <= said
        for page in OPERATOR_PAGES:  # the short bullets, and the cases in detail
            text = page.read_text(encoding="utf-8")
            section = text.split("## When a session is in ERROR_REQUIRES_OPERATOR", 1)[1]
            section = section.split("\n## ", 1)[0]
            opening = section.split("\n- ", 1)[0]
            heads = [b.split("**")[1] for b in section.split("\n- ")[1:] if b.startswith("**")]
            bulleted = {code for head in heads for code in re.findall(r"`([A-Z_]+)`", head)}
            assert sorted(said - bulleted) == [], f"{page.name}: reasons without a bullet"
            assert sorted(r for r in said if f"`{r}`" not in opening) == [], page.name


class TestSafetyRailsTable:
    def test_the_rail_table_lists_every_rule_with_the_defaults_the_code_has(self):
        """The rail table (docs/risk.md, "The rails", moved there from docs/concepts.md) is
        what a reviewer reads of the limits: every rule code the session records is in it, in
        the order the session checks them, and each ``risk.*`` default it shows is the
        config's."""
        from decimal import Decimal

        from livesession import RiskLimits, default_rails
        from livesession._risk.kinds import (
            NO_MARKET_PRICE,
            PRICE_OFF_TICK,
            QTY_BELOW_LOT,
            REDUCE_ONLY,
        )
        from livesession._risk.rails import RAIL_RULES

        text = (ROOT / "docs" / "risk.md").read_text(encoding="utf-8")
        section = text.split("\n## The rails\n", 1)[1].split("\n## ", 1)[0]
        rows = [line for line in section.splitlines() if line.startswith("| `")]
        rules = [row.split("`")[1] for row in rows]
        # Every rail, the ones off unless a limit is set among them.
        every = RiskLimits(max_position_notional="1")
        checked = [r.rule for r in default_rails(every, ["BTC/USDT"])]
        session_own = [QTY_BELOW_LOT, REDUCE_ONLY, PRICE_OFF_TICK]
        assert rules == [*session_own, *checked, NO_MARKET_PRICE]
        assert set(rules) == RAIL_RULES
        limits = RiskLimits()
        shown = re.findall(r"`risk\.(\w+)` \(([\d.]+)\)", section)
        assert len(shown) == 9
        for name, default in shown:
            assert getattr(limits, name) == Decimal(default), name


class TestPreflightTable:
    def test_the_preflight_table_is_every_check_the_session_records_in_order(self):
        """docs/concepts.md said preflight checks "steps within max_steps", which cannot
        fail there (the config refuses it as it is built). The table (docs/risk.md,
        "Preflight checks") lists the checks a session records, in the order it records
        them, each with the codes it fails with."""
        import inspect

        from livesession._domain import reasons
        from livesession._risk import checks
        from livesession._session import lease_keeper, preflight

        text = (ROOT / "docs" / "risk.md").read_text(encoding="utf-8")
        section = text.split("\n## Preflight checks\n", 1)[1].split("\n## ", 1)[0]
        rows = [line for line in section.splitlines() if line.startswith("| `")]
        names = [row.split("`")[1] for row in rows]
        builtin = [getattr(check, "name", "") for check in checks.default_checks()]
        user = checks.UserBrokerCheck({}).name
        assert names == ["clock_valid", *builtin, user, "session_lease"]
        code = "".join(inspect.getsource(m) for m in (checks, lease_keeper, reasons, preflight))
        for row in rows:
            said = row.split("|")[2]
            for reason in re.findall(r"`([A-Z_]+)`", said):
                assert f'"{reason}"' in code, (row.split("`")[1], reason)
        assert "`steps` within `max_steps`" not in section
        with pytest.raises(livesession.ConfigError, match="above the bound max_steps"):
            livesession.DryrunConfig(steps=10, max_steps=5)


class TestConfigReference:
    def test_every_key_the_config_takes_is_in_docs_config_md_and_no_other(self):
        """docs/config.md is the one page of every config key: a key the code takes and the
        page leaves out (or a key the page names and the code refuses) fails here."""
        import attrs

        from livesession import DryrunConfig

        def keys(cls: type, prefix: str = "") -> set[str]:
            found = set()
            for field in attrs.fields(cls):
                if field.name == "base_dir":  # set by the caller, never read from a file
                    continue
                nested = field.type if attrs.has(field.type) else None
                default = field.default
                if nested is None and isinstance(default, attrs.Factory):
                    made = default.factory() if not default.takes_self else None
                    nested = type(made) if attrs.has(type(made)) else None
                found |= keys(nested, f"[{field.name}] ") if nested else {prefix + field.name}
            return found

        text = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
        documented = set()
        for row in text.splitlines():
            if not row.startswith("| `") and not row.startswith("| `["):
                continue
            cell = row.split("|")[1].strip()
            table = re.match(r"`\[(\w+)\]` ", cell)
            names = re.findall(r"`(\w+)`", cell[table.end() :] if table else cell)
            documented |= {f"[{table.group(1)}] {n}" if table else n for n in names}
        assert documented == keys(DryrunConfig)

    def test_the_clock_mode_row_says_what_each_mode_stamps(self, tmp_path):
        """The row read "`sim` (simulated time), `fixed` or `system` (wall clock for
        `ts_utc`)": `fixed` is no wall clock, but `start_time` on every record."""
        from livesession import DryrunConfig, create_run, verify_run

        text = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
        row = next(r for r in text.splitlines() if r.startswith("| `clock_mode` |"))
        assert "`fixed` (`start_time`, the one moment every record is stamped with)" in row
        assert "`system` (the wall clock as each record is written)" in row
        cfg = DryrunConfig(
            run_id="fixed", steps=5, clock_mode="fixed", start_time="2026-03-01T12:00:00+02:00"
        )
        session = create_run(cfg, tmp_path, alerts=False)
        session.run_to_end(5)
        session.close()
        lines = (tmp_path / "fixed" / "events.jsonl").read_text(encoding="utf-8").splitlines()
        assert {json.loads(line)["ts_utc"] for line in lines} == {"2026-03-01T10:00:00Z"}
        assert verify_run(tmp_path / "fixed").ok

    def test_the_defaults_it_shows_are_the_codes(self):
        from livesession import DryrunConfig

        cfg = DryrunConfig()
        text = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
        shown = re.findall(r"^\| `\[(\w+)\]` `(\w+)` \| `\"?([\d.]+)\"?` \|", text, re.MULTILINE)
        assert len(shown) >= 20
        for table, name, default in shown:
            assert str(getattr(getattr(cfg, table), name)) == default, (table, name)

    def test_every_default_a_row_shows_as_a_value_is_the_codes(self):
        """The defaults test above read only ``[table] key`` rows of one key: the top-level
        rows (``seed``, ``steps``, ``max_steps``, ``lease_ttl_ms``, ...) and the two keys of
        ``[strategy]`` ``fast``, ``slow`` could drift from the code unseen. Each row whose
        default cell starts with a value (one per key named) shows the field's own default;
        a default said in words (the factory's module name, the feed's symbol) is not read."""
        from decimal import Decimal

        import attrs

        from livesession import DryrunConfig

        text = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
        tables = {
            f.name: f.default.factory
            for f in attrs.fields(DryrunConfig)
            if isinstance(f.default, attrs.Factory) and attrs.has(f.default.factory)
        }
        checked = 0
        for row in text.splitlines():
            if not row.startswith("| `"):
                continue
            key_cell, default_cell = (cell.strip() for cell in row.split("|")[1:3])
            table = re.match(r"`\[(\w+)\]` ", key_cell)
            cls = tables[table.group(1)] if table else DryrunConfig
            names = re.findall(r"`(\w+)`", key_cell[table.end() :] if table else key_cell)
            shown = re.match(r"((?:`[^`]+`(?:, )?)+)(?: |$)", default_cell)
            if shown is None:
                continue
            values = [v.strip('"') for v in re.findall(r"`([^`]+)`", shown.group(1))]
            if len(values) != len(names):
                continue
            fields = attrs.fields_dict(cls)
            for name, value in zip(names, values, strict=True):
                default = fields[name].default
                if isinstance(default, bool):
                    written = str(default).lower()
                elif isinstance(default, int | str | Decimal) and default != "":
                    written = str(default)
                else:
                    continue
                checked += 1
                assert written == value, (key_cell, value, written)
        assert checked >= 40

    def test_the_alerts_bounds_it_shows_are_the_codes(self):
        """Bug: docs/config.md gave no bounds for `[alerts]` `timeout_ms`, `retries` and
        `queue_size`, which the code enforces (a value outside is refused, exit 2). Each
        integer key of the table shows its bounds, and they are the code's."""
        import attrs

        from livesession import ConfigError
        from livesession._domain.alerts import AlertsConfig

        text = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
        shown = {
            name: (int(low), int(high))
            for name, low, high in re.findall(
                r"^\| `\[alerts\]` `(\w+)` \|[^|]*\|[^|]*: from (\d+) to (\d+) \|$",
                text,
                re.MULTILINE,
            )
        }
        integers = {f.name for f in attrs.fields(AlertsConfig) if f.type in (int, "int")}
        assert set(shown) == integers == {"timeout_ms", "retries", "queue_size"}
        for name, (low, high) in shown.items():
            AlertsConfig(**{name: low})
            AlertsConfig(**{name: high})
            for outside in (low - 1, high + 1):
                with pytest.raises(ConfigError, match=f"alerts.{name} must be an integer from"):
                    AlertsConfig(**{name: outside})

    def test_every_bound_the_code_has_is_in_docs_config_md_and_the_runbook(self):
        """A key the code caps below the general rules (an integer within 64 bits, a share
        at most 1) says its cap in its row of docs/config.md and in the RUNBOOK's table of
        bounds: max_steps was capped at 10,000,000 and neither said so. The caps are found
        by giving each key a value beyond any, so a new cap is held here too."""
        bounds = _config_bounds()
        assert {"max_steps", "step_interval_ms", "lease_ttl_ms"} <= set(bounds)
        rows = _config_rows()
        section = operator_text().split("Some values are bounded because", 1)[1]
        section = section.split("\n## ", 1)[0]
        table = [line for line in section.splitlines() if line.startswith("| `")]
        for key, bound in bounds.items():
            forms = _spellings(key, bound)
            row = rows[key]
            assert any(f"at most {form}" in row for form in forms), (key, bound, row)
            name = key.rsplit(".", 1)[-1]
            named = [line for line in table if {f"`{name}`", f"`{key}`"} & _cells(line)]
            assert any(form in line for line in named for form in forms), (key, bound)


_INT_MAX = 2**63 - 1
_DAY_MS = 86_400_000


def _config_bounds() -> dict[str, str]:
    """Each config key's own cap (``key``, or ``table.key``), from the refusal of a value
    beyond any: ``... must be at most X``. The general rules' caps are left out."""
    from decimal import Decimal

    import attrs

    from livesession import ConfigError, DryrunConfig

    found: dict[str, str] = {}
    tables = [("", DryrunConfig)] + [
        (f"{f.name}.", f.default.factory)
        for f in attrs.fields(DryrunConfig)
        if isinstance(f.default, attrs.Factory) and attrs.has(f.default.factory)
    ]
    for prefix, cls in tables:
        for field in attrs.fields(cls):
            default = field.default
            if isinstance(default, Decimal):
                beyond: object = "1000000"
            elif isinstance(default, int) and not isinstance(default, bool):
                beyond = _INT_MAX
            else:
                continue
            table = prefix.rstrip(".")
            mapping = {table: {field.name: beyond}} if table else {field.name: beyond}
            try:
                DryrunConfig.from_mapping(mapping)
            except ConfigError as exc:
                key = prefix + field.name
                capped = re.match(rf"{re.escape(key)} must be at most ([\d.]+)", str(exc))
                if capped is not None and capped.group(1) not in (str(_INT_MAX), "1"):
                    found[key] = capped.group(1)
    return found


def _config_rows() -> dict[str, str]:
    """docs/config.md's table rows by the key they name (``table.key`` in a table)."""
    rows: dict[str, str] = {}
    text = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    for row in text.splitlines():
        if not row.startswith("| `"):
            continue
        cell = row.split("|")[1].strip()
        table = re.match(r"`\[(\w+)\]` ", cell)
        for name in re.findall(r"`(\w+)`", cell[table.end() :] if table else cell):
            rows[f"{table.group(1)}.{name}" if table else name] = row
    return rows


def _cells(line: str) -> set[str]:
    """The `names` in the first cell of a table row."""
    return set(re.findall(r"`[\w.]+`", line.split(" | ", maxsplit=1)[0]))


def _spellings(key: str, bound: str) -> set[str]:
    """How a doc may write ``bound``: as the code does, with thousands separators, or (a
    number of milliseconds that is whole days) in days."""
    forms = {bound, f"`{bound}`"}
    if bound.isdigit():
        forms.add(f"{int(bound):,}")
        if key.endswith("_ms") and int(bound) % _DAY_MS == 0:
            days = int(bound) // _DAY_MS
            forms.add("one day" if days == 1 else f"{days} days")
    return forms


def test_the_api_index_names_every_public_name_and_nothing_else():
    """docs/api.md lists each name of ``livesession.__all__`` once, and no name it lacks.

    A newcomer found 26 public names (``AsyncSession``, ``SessionInspection``, ``TradingState``,
    ...) in no doc at all.
    """
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    listed = re.findall(r"^\| `([A-Za-z_]\w*)(?:\(\))?` \|", text, flags=re.MULTILINE)
    assert len(listed) == len(set(listed)), "a name is listed twice"
    public = set(livesession.__all__) - {"__version__"}
    assert set(listed) == public, (
        f"missing from docs/api.md: {sorted(public - set(listed))}; "
        f"not public: {sorted(set(listed) - public)}"
    )


def _flat(path: str) -> str:
    """The page's text with its line breaks and whitespace runs made one space."""
    return " ".join((ROOT / path).read_text(encoding="utf-8").split())


class TestVerifyListing:
    @pytest.mark.broken_run("events.jsonl is broken on purpose: many violations")
    def test_plain_and_json_list_what_the_docs_say(self, tmp_path, capsys):
        """docs/artifacts.md said ``--json`` lists "the same lines" as the plain output:
        plain printed 20 and ``... and 62 more``, ``--json`` 59 ending ``events.jsonl: 24
        more violations not listed``. Both are what the docs now say, with the code's bounds."""
        from livesession.cli import main
        from livesession.verify._result import _MAX_PER_FILE, SHOWN

        out = tmp_path / "out"
        assert main(["dryrun", "--run-id", "v", "--steps", "50", "--out", str(out), "-q"]) == 0
        events = out / "v" / "events.jsonl"
        lines = events.read_bytes().splitlines(keepends=True)
        events.write_bytes(b"".join(b"x\n" if i % 2 else line for i, line in enumerate(lines)))
        capsys.readouterr()
        assert main(["verify", str(out / "v")]) == 1
        plain = capsys.readouterr().out.splitlines()
        assert main(["verify", "--json", str(out / "v")]) == 1
        result = json.loads(capsys.readouterr().out)
        total, listed = result["total"], result["violations"]
        assert len(plain) == 1 + SHOWN + 1
        assert plain[1:-1] == listed[:SHOWN]
        assert plain[-1] == f"... and {total - SHOWN} more violations"
        counted = [line for line in listed if line.endswith(" more violations not listed")]
        assert [line.split(":")[0] for line in counted] == ["events.jsonl"]
        broken = [line for line in listed if line.startswith("events.jsonl:")]
        assert len(broken) == _MAX_PER_FILE + 1  # and the line counting the rest

        artifacts, runbook = _flat("docs/artifacts.md"), operator_flat()
        assert f"At most {_MAX_PER_FILE} are kept per file" in artifacts
        assert f"the first {SHOWN} of those lines" in artifacts
        assert f"lists every line kept (all of them up to {_MAX_PER_FILE} per file" in artifacts
        assert f"then at most {SHOWN} violations, one per line" in runbook
        assert f"`--json` lists up to {_MAX_PER_FILE} per file under `violations`" in runbook


class TestFeedFlag:
    def test_help_and_the_runbook_name_every_data_feed(self):
        """``--feed``'s help and the RUNBOOK's flag row left out ``parquet:PATH``, which
        works (docs/config.md and docs/data.md say so)."""
        import argparse

        from livesession import cli
        from livesession._domain.datafeeds import DATA_FEEDS

        parser = cli.build_parser()
        [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        [feed] = [a for a in sub.choices["dryrun"]._actions if "--feed" in a.option_strings]
        text = operator_text()
        [row] = [line for line in text.splitlines() if line.startswith("| `--feed SPEC` |")]
        for kind in DATA_FEEDS:
            assert f"{kind}PATH" in (feed.help or ""), kind
            assert f"`{kind}PATH`" in row, kind


def _shell_commands(page: str) -> list[list[str]]:
    """Each ``livesession ...`` command of the page's ``bash`` blocks, as the shell splits it
    (comments and a leading ``NAME=value`` dropped; ``&&``, ``|`` and ``;`` end a command)."""
    import shlex

    text = (ROOT / page).read_text(encoding="utf-8")
    found = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
            lexer.whitespace_split, lexer.commenters = True, "#"
            words: list[str] = []
            for token in [*lexer, ";"]:
                if token not in {"&&", "|", ";", "||"}:
                    words.append(token)
                    continue
                while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
                    words.pop(0)
                if words[:1] == ["livesession"]:
                    found.append(words[1:])
                words = []
    return found


class TestShellCommands:
    @pytest.mark.parametrize("page", ["RUNBOOK.md", "README.md"])
    def test_every_command_a_bash_block_shows_is_one_the_cli_takes(self, page):
        """The operator pastes these as written: ``livesession list out/runs [--json]`` gave
        ``unrecognized arguments: [--json]``. Every command of a ``bash`` block parses."""
        from livesession import cli
        from livesession._exceptions import UsageError

        commands = _shell_commands(page)
        assert commands, page
        parser = cli.build_parser()
        for words in commands:
            try:
                parser.parse_args(words)
            except UsageError as exc:
                pytest.fail(f"{page}: livesession {' '.join(words)}: {exc}")

    def test_the_runbook_shows_every_command(self):
        """Each command of the CLI is shown in a bash block of the RUNBOOK at least once."""
        import argparse

        from livesession import cli

        parser = cli.build_parser()
        [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        shown = {words[0] for words in _shell_commands("RUNBOOK.md") if words}
        assert shown == set(sub.choices), sorted(set(sub.choices) ^ shown)


def _field_table(title: str) -> set[str]:
    """The fields the runbook's table under ``### title`` names in its first column."""
    text = operator_text()
    section = text.split(f"### {title}\n", 1)[1].split("\n| ", 1)[1].split("\n\n", 1)[0]
    rows = [line.split(" | ")[0] for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`(\w+)`", row)}


class TestJsonFields:
    def test_every_field_dryrun_and_status_print_is_in_the_runbook(self, tmp_path, capsys):
        """``status --json`` printed ``heartbeat_age_s``, ``resume_problem``, ``starting``
        and more, ``dryrun --json`` ``kills``, ``risk_blocks`` and ``detail``, which no
        page described: RUNBOOK's two field tables name every one, and no other."""
        from livesession.cli import main

        out = tmp_path / "out"
        argv = ["dryrun", "--run-id", "j", "--steps", "30", "--out", str(out), "--json"]
        assert main(argv) == 0
        dryrun = json.loads(capsys.readouterr().out)
        assert main(["status", str(out / "j"), "--json"]) == 0
        status = json.loads(capsys.readouterr().out)
        assert set(dryrun) == _field_table("The fields of `dryrun --json`")
        assert set(status) == _field_table("The fields of `status --json`")


def test_each_api_row_is_the_names_docstring_or_an_alias_s_comment():
    """docs/api.md gives each name the first line of its docstring: ``BrokerReport``, a
    union alias, has none of its own (``__doc__`` is Python's "Represent a PEP 604 union
    type"). Its row is the comment above its definition, and the page says so."""
    import inspect
    import types

    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `(\w+)(?:\(\))?` \| (.*) \|$", text, flags=re.MULTILINE))
    aliases = []
    for name in sorted(set(livesession.__all__) - {"__version__"}):
        value = getattr(livesession, name)
        if isinstance(value, types.UnionType):
            aliases.append(name)
            source = inspect.getsource(sys.modules[_ALIAS_HOMES[name]])
            comment = source.split(f"\n{name} = ", 1)[0].rsplit("\n# ", 2)[-2]
            assert rows[name] == comment.strip(), name
        else:
            first = (inspect.getdoc(value) or "").splitlines()[0]
            assert re.sub(r"[`*]", "", rows[name]) == re.sub(r"[`*]", "", first), name
    assert aliases == ["BrokerReport"]
    flat = " ".join(text.split())
    assert "A type alias has no docstring of its own" in flat


_ALIAS_HOMES = {"BrokerReport": "livesession._domain.model"}


_SRC = ROOT / "src" / "livesession"
# Every folder of the package, found on disk (a new one is held to the index as it is added):
# its section of docs/modules.md names each of its modules, those of a folder inside it too.
_DETAILED = tuple(sorted({p.relative_to(_SRC).parts[0] for p in _SRC.glob("*/**/*.py")}))
_TOP_LEVEL = "Top-level modules"
_MAP_CELL_LIMIT = 300
_MAP_PAGE_LIMIT = 8000


def _map_section() -> str:
    text = (ROOT / "docs" / "concepts.md").read_text(encoding="utf-8")
    return text.split("\n## Map of the package\n", 1)[1].split("\n## ", 1)[0]


def _map_rows() -> list[list[str]]:
    """The map's table rows, each cut into its cells (``folder or module``, ``owns``, ``may
    import``)."""
    return [
        [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        for line in _map_section().splitlines()
        if line.startswith("| `")
    ]


def _index() -> str:
    return (ROOT / "docs" / "modules.md").read_text(encoding="utf-8")


def _index_part(title: str) -> str:
    """The section of docs/modules.md headed ``title`` (``_session/`` is headed
    ``## `_session/```), with the subsections inside it (``### `brokers/ccxt/```)."""
    found = [
        part.split("\n## ", 1)[0]
        for part in _index().split("\n## ")[1:]
        if part.split("\n", 1)[0].strip() == title
    ]
    assert len(found) == 1, f"docs/modules.md has {len(found)} sections headed {title!r}"
    return found[0]


def _entries(part: str) -> list[str]:
    """The modules a section of the index has an entry for: its ``- `name.py`:`` bullets."""
    return re.findall(r"^- `([\w.]+\.py)`: \S", part, flags=re.MULTILINE)


class TestPackageMap:
    def test_every_top_level_folder_and_module_is_in_the_layers_and_nothing_else(self):
        """docs/concepts.md's map draws the layers with every folder and top-level module
        of the package, and names none that is gone."""
        import fnmatch

        (block,) = re.findall(r"```\n(.*?)```", _map_section(), re.DOTALL)
        drawn = {
            word.rstrip("/")
            for line in block.splitlines()
            for word in line.split()
            if word.endswith(("/", ".py"))
        }
        present = {
            path.name
            for path in _SRC.iterdir()
            if (path.is_dir() and path.name != "__pycache__")
            or (path.suffix == ".py" and path.name != "__init__.py")
        }
        assert {p for p in present if not any(fnmatch.fnmatch(p, d) for d in drawn)} == set()
        assert {d for d in drawn if not fnmatch.filter(present, d)} == set()

    def test_the_map_is_one_page_of_short_cells(self):
        """Bug: rounds of additions made the map's cells paragraphs (``_rundir/``'s row was
        4,533 characters, ``_support/``'s 2,596, the whole map 30,000): no page a newcomer
        reads. The detail is in docs/modules.md; each cell of the map says in a line or two
        what a folder owns and what it may import, and the map fits on a page."""
        rows = _map_rows()
        assert len(rows) >= 20, "the map's tables were not found"
        assert all(len(row) == 3 for row in rows), [row[0] for row in rows if len(row) != 3]
        long = [
            f"{row[0]}: {len(cell)} characters"
            for row in rows
            for cell in row
            if len(cell) > _MAP_CELL_LIMIT
        ]
        assert long == [], (
            f"map cells over {_MAP_CELL_LIMIT} characters (move the detail to docs/modules.md)"
        )
        assert len(_map_section()) <= _MAP_PAGE_LIMIT, len(_map_section())
        assert "](modules.md)" in _map_section()

    @pytest.mark.parametrize(
        ("what", "folder", "module"),
        [
            ("the lifecycle table", "_domain/", "lifecycle.py"),
            ("the clock", "_domain/", "clock.py"),
            ("the step pipeline", "_session/", "pipeline.py"),
            ("the coordinator", "_session/", "coordinator.py"),
            ("the preflight checks", "_risk/", "checks.py"),
            ("the safety rails", "_risk/", "rails.py"),
            ("the trading state", "_risk/", "governor.py"),
            ("the reconciler", "_reconcile/", "reconciler.py"),
            ("the event spine", "_artifacts/", "recorder.py"),
            ("the audit log", "_artifacts/", "audit_chain.py"),
            ("the sinks", "_artifacts/", "sinks.py"),
            ("the run directory", "_rundir/", "layout.py"),
            ("the resume", "_rundir/", "resume.py"),
            ("the mock broker", "brokers/", "mock.py"),
            ("the realish broker", "brokers/", "realish.py"),
            ("the ccxt broker", "brokers/", "ccxt/"),
            ("the memory store", "stores/", "memory.py"),
            ("the JSON Lines store", "stores/", "jsonl.py"),
            ("the SQLite store", "stores/", "sqlite.py"),
            ("the PostgreSQL store", "stores/", "postgres.py"),
            ("the checkpoint file", "stores/", "checkpoint_file.py"),
            ("the file lease", "leases/", "file.py"),
            ("the PostgreSQL lease", "leases/", "postgres.py"),
        ],
    )
    def test_the_map_says_where_each_part_lives(self, what, folder, module):
        """Issue #12: from the map a newcomer finds where the lifecycle table, the step
        pipeline, the risk rules, the reconciler, the artifact writers, the run directory,
        each broker and each store live: the folder's row names the module."""
        assert (_SRC / folder / module).exists(), f"{folder}{module} is gone: {what}"
        (row,) = [row for row in _map_rows() if row[0] == f"`{folder}`"]
        assert f"`{module}`" in row[1] or f"`{folder}{module}`" in row[1], what

    @pytest.mark.parametrize("folder", _DETAILED)
    def test_every_module_of_a_folder_has_an_entry_in_the_index(self, folder):
        """Bug: the map named most modules of these folders by file, but new ones
        (``_session/closing.py``, ``_support/numbertext.py``, ``evidence/_verdict.py``, ...)
        were on it nowhere: a newcomer looking for where a plug-in's close() is handled, or
        where a number's form is held, found no file. Each module of a folder (of a folder
        inside it too) has its entry in the folder's section of docs/modules.md, and each
        entry there is a module of that folder."""
        part = _index_part(f"`{folder}/`")
        modules = {p.name for p in (_SRC / folder).rglob("*.py") if p.name != "__init__.py"}
        entries = _entries(part)
        missing = sorted(modules - set(entries))
        assert not missing, f"docs/modules.md has no entry for {folder}/{missing}"
        assert set(entries) - {"__init__.py"} <= modules, (
            f"{folder}/ has no {sorted(set(entries) - modules - {'__init__.py'})}"
        )
        for sub in sorted({p.parent for p in (_SRC / folder).rglob("*.py")} - {_SRC / folder}):
            inside = sub.relative_to(_SRC).as_posix()
            tail = part.split(f"\n### `{inside}/`\n", 1)
            assert len(tail) == 2, f"docs/modules.md's {folder}/ has no subsection {inside}/"
            named = set(_entries(tail[1].split("\n### ", 1)[0]))
            assert {p.name for p in sub.glob("*.py") if p.name != "__init__.py"} <= named, inside

    def test_every_top_level_module_has_an_entry_in_the_index(self):
        """The modules beside the folders (``cli.py``, ``_cli_status.py``, ``_typing.py``,
        the facade ``__init__.py``) have their entries too, in a section headed "Top-level
        modules ..."; and no entry there names a module that is gone."""
        parts = [
            part.split("\n## ", 1)[0]
            for part in _index().split("\n## ")[1:]
            if part.startswith(_TOP_LEVEL)
        ]
        assert len(parts) == 2  # the domain's and the tools'
        entries = [entry for part in parts for entry in _entries(part)]
        modules = {p.name for p in _SRC.glob("*.py")}
        assert sorted(modules - set(entries)) == []
        assert sorted(set(entries) - modules) == []
        assert len(entries) == len(set(entries)), "a module has two entries"

    def test_every_folder_has_a_section_in_the_index(self):
        """schemas/ holds no Python and still has its section: the index is folder by folder."""
        folders = sorted(p.name for p in _SRC.iterdir() if p.is_dir() and p.name != "__pycache__")
        for folder in folders:
            _index_part(f"`{folder}/`")

    def test_every_module_the_map_and_the_index_name_exists(self):
        every = {p.name for p in _SRC.rglob("*.py")}
        named = re.findall(r"`((?:[\w/]+/)?(\w+\.py))`", _map_section() + _index())
        gone = {
            path
            for path, name in named
            if not ((ROOT / path).is_file() if path.startswith("tests/") else name in every)
        }
        assert gone == set()

    def test_the_cli_row_names_every_command(self):
        """The map's ``cli.py`` row is where a newcomer looks for the commands: it names
        each subcommand the parser has, in backticks."""
        import argparse

        from livesession import cli

        parser = cli.build_parser()
        [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        (row,) = [line for line in _map_section().splitlines() if line.startswith("| `cli.py`")]
        assert [name for name in sub.choices if f"`{name}`" not in row] == []


_CONCEPTS = (
    "A session is a state machine",
    "Preflight",
    "One step",
    "Safety rails",
    "Protected positions",
    "Reconciliation",
    "Failure handling",
    "Evidence",
    "Crash safety",
    "Fail closed",
    "Map of the package",
)
_CONCEPT_LIMIT = 6000


def test_concepts_is_the_concepts_each_in_a_few_paragraphs():
    """Bug: docs/concepts.md had grown to 75,467 characters: the rail table's fine print,
    every fill the book refuses, every resume record and file-system refusal buried the
    lifecycle, the step, the rails, reconciliation (which had no section at all), the
    evidence (neither) and the resume. The page gives each concept in a few paragraphs, in
    that order, with the map last; the reference lives in docs/risk.md and
    docs/failures.md, linked from the concepts it details."""
    text = (ROOT / "docs" / "concepts.md").read_text(encoding="utf-8")
    parts = {part.split("\n", 1)[0]: part for part in text.split("\n## ")[1:]}
    titles = list(parts)
    assert [t for t in _CONCEPTS if t not in titles] == []
    assert sorted(_CONCEPTS, key=titles.index) == list(_CONCEPTS), "not in the concepts' order"
    assert titles[-1] == "Map of the package"
    long = {
        title: len(part)
        for title, part in parts.items()
        if len(part) > _CONCEPT_LIMIT and title != "Map of the package"  # its own limit above
    }
    assert long == {}, f"sections over {_CONCEPT_LIMIT} characters: move the reference out"
    for page in ("risk.md", "failures.md", "modules.md"):
        assert f"]({page}" in text, page


_LISTING_PACKAGES = ("_rundir", "_session", "_support", "leases", "report")
"""The packages whose docstring is a map of their modules: it names each of them."""


@pytest.mark.parametrize("folder", _LISTING_PACKAGES)
def test_a_package_docstring_that_maps_its_modules_names_each(folder):
    """Bug: the docstrings of ``_session/``, ``_rundir/`` and ``_support/`` named some of
    their modules only (``_session/`` 13 of 29, ``_support/`` none): one read as the map of
    its package left the rest out. Each names every module of its folder as ``name``."""
    init = _SRC / folder / "__init__.py"
    doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
    modules = sorted(p.stem for p in (_SRC / folder).glob("*.py") if p.name != "__init__.py")
    assert modules, folder
    missing = [module for module in modules if f"``{module}``" not in doc]
    assert not missing, f"{folder}/__init__.py's docstring does not name {missing}"


class TestEveryFlag:
    def test_every_flag_of_every_command_is_in_the_runbook(self):
        """Bug: ``dryrun --clock`` (``fixed``, ``sim``, ``system``) and ``livesession
        --version`` were in ``--help`` and nowhere in RUNBOOK.md, the operator's page of
        flags. Every option each command shows in ``--help`` is named there."""
        import argparse

        from livesession import cli

        parser = cli.build_parser()
        [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        text = operator_text()
        missing = []
        for command, each in [("", parser), *sub.choices.items()]:
            for action in each._actions:
                if action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
                    continue
                flags = [f for f in action.option_strings if f.startswith("--")]
                if flags and not re.search(rf"(?<![\w-]){re.escape(flags[0])}(?![\w-])", text):
                    missing.append(f"{command} {flags[0]}".strip())
        assert not missing, f"RUNBOOK.md and docs/operations.md name no {missing}"


def test_every_environment_variable_the_package_reads_is_documented():
    """Each ``LIVESESSION_*`` variable the package names (the credentials, the DSN, the
    PostgreSQL bound, the alert webhook, the crash harness's) is on a page of the docs, and
    no page names one the package no longer reads (the test suite's own aside)."""
    src = "\n".join(path.read_text(encoding="utf-8") for path in _SRC.rglob("*.py"))
    read = set(re.findall(r"\bLIVESESSION_[A-Z_]*[A-Z]\b", src))
    pages = "\n".join((ROOT / page).read_text(encoding="utf-8") for page in _PAGES)
    named = set(re.findall(r"\bLIVESESSION_[A-Z_]*[A-Z]\b", pages))
    tests = "\n".join(path.read_text(encoding="utf-8") for path in (ROOT / "tests").glob("*.py"))
    ci = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / ".ci").iterdir() if p.is_file())
    assert read - named == set()
    assert {name for name in named - read if name not in tests + ci} == set()


def test_the_report_page_lists_the_reports_sections_in_their_order():
    """docs/report.md's "What it shows, top to bottom" table is the report's sections, in
    the order ``report.html`` has them (read from the code that lays them out)."""
    from livesession.report import _html

    source = (ROOT / "src" / "livesession" / "report" / "_html.py").read_text(encoding="utf-8")
    assert _html._section  # the one place a section's title is written
    made = re.findall(r'_section\("([^"]+)", ', source)
    text = (ROOT / "docs" / "report.md").read_text(encoding="utf-8")
    table = text.split("## What it shows, top to bottom", 1)[1].split("\n\n", 2)[1]
    rows = [line.split("|")[1].strip() for line in table.splitlines()[2:]]
    assert rows == ["header", *made]


def test_the_readme_links_every_page_of_the_docs():
    """README's "More" list is where a newcomer finds the pages: docs/data.md (data files)
    and docs/report.md (the HTML report) were in it nowhere."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    more = text.split("\n## More\n", 1)[1]
    pages = sorted(page.name for page in (ROOT / "docs").glob("*.md"))
    assert [page for page in pages if f"](docs/{page})" not in more] == []


def test_the_readme_names_every_extra():
    """A newcomer installing the wheel learns its extras from README: it named only
    ``.[tests]``, so ``parquet``, ``ccxt``, ``postgres``, ``observability`` and ``testing``
    (each a feature's, which the feature's own error asks for) were found only page by page."""
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert [name for name in extras if name != "dev" and f"`{name}`" not in text] == []


_SECTION_REF = re.compile(r'((?:docs/)?[a-z]+\.md|RUNBOOK(?:\.md)?), "([^"\n]{3,90})"')


def _headings(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)
    found = re.findall(r"^#+\s+(.*)$", text, flags=re.MULTILINE)
    return {heading.replace("`", "").strip().lower() for heading in found}


def test_a_section_named_by_page_and_title_is_a_heading_of_that_page():
    """``docs/concepts.md, "protective legs"`` (RUNBOOK's burn-in) named no section: the
    legs are in concepts.md's "Safety rails". Each ``PAGE, "Title"`` a page or a message of
    the package gives is a heading of that page."""
    where = [ROOT / page for page in _PAGES] + sorted(_SRC.rglob("*.py"))
    wrong, checked = [], 0
    for path in where:
        for page, title in _SECTION_REF.findall(path.read_text(encoding="utf-8")):
            checked += 1
            target = ROOT / ("RUNBOOK.md" if page.startswith("RUNBOOK") else page)
            if not target.is_file():
                target = ROOT / "docs" / page
            if title.replace("`", "").lower() not in _headings(target):
                wrong.append(f"{path.relative_to(ROOT)}: {page}, {title!r}")
    assert checked >= 10  # the pages and messages do name sections so
    assert wrong == []


def test_the_readme_sketch_leaves_every_state_that_is_not_terminal():
    """README's state sketch drew ERROR_REQUIRES_OPERATOR as an end: a newcomer read a
    fault as final, though an operator's acknowledgement winds the session down and stops
    it. Each state the table leaves has an arrow out of it in the sketch, and each terminal
    one none."""
    from livesession._domain.lifecycle import TERMINAL_STATES, TRANSITIONS

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    sketch = text.split("```\n", 2)[1]
    assert "INIT ─" in sketch  # the sketch read is the state diagram
    left = {source.value for _, source, _ in TRANSITIONS}
    drawn = set(re.findall(r"([A-Z_]+) ─", sketch))
    assert left - drawn == set()
    assert drawn & {state.value for state in TERMINAL_STATES} == set()


def test_the_testing_page_gives_the_matrixs_own_defaults():
    """run_failure_matrix lays its config "over the matrix's defaults", which no page gave:
    a newcomer's ``config={"step_interval_ms": 86400000}`` was refused naming max_steps
    (100,000, the matrix's), a key they never set. docs/testing.md gives each default the
    matrix sets, with the value it sets."""
    from livesession.testing.matrix import _BASE

    text = " ".join((ROOT / "docs" / "testing.md").read_text(encoding="utf-8").split())
    written = {
        key: f'"{value}"' if isinstance(value, str) else value for key, value in _BASE.items()
    }
    assert [
        f"`{key} = {value}`" for key, value in written.items() if f"`{key} = {value}`" not in text
    ] == []


def test_every_options_help_says_what_it_does():
    """``livesession dryrun --help`` gave ``--durability`` as "default step" alone: a
    newcomer comparing it with the docs could not tell what the choices do. Every option's
    help says more than its default."""
    import argparse

    from livesession.cli import build_parser

    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    bare = [
        f"{name} {'/'.join(action.option_strings)}"
        for name, sub in commands.choices.items()
        for action in sub._actions
        if action.help and re.fullmatch(r"\(?default:? \S+\)?", action.help.strip())
    ]
    assert len(commands.choices) >= 12
    assert bare == []


def test_the_testing_page_names_every_fault_broker_parameter():
    """``lot`` and ``native_oco`` were on no page: a test of a strategy trading whole
    units could not know that a split fill's parts are on ``lot`` (0.001), and failed with
    BROKER_REPORT_INVALID. Each parameter of ``FaultBroker`` is in its section of
    docs/testing.md but ``tick``, which it takes and does not use (fills are at the bar's
    prices, already on the session's grid)."""
    import inspect

    from livesession.testing import FaultBroker

    text = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    section = text.split("\n## `FaultBroker`\n", 1)[1].split("\n## ", 1)[0]
    named = set(inspect.signature(FaultBroker).parameters) - {"tick"}
    assert {"latency_ns", "lot", "native_oco"} <= named
    assert sorted(name for name in named if f"`{name}`" not in section) == []


def test_the_exception_tree_drawn_in_the_docstring_is_the_class_tree():
    """``_exceptions.py`` draws the tree of every exception livesession raises, which
    docs/api.md sends a reader to: each class of the module's ``__all__`` is drawn once,
    under the class it subclasses, and nothing else is drawn."""
    from livesession import _exceptions

    doc = _exceptions.__doc__ or ""
    drawn: dict[str, str | None] = {}
    parents: list[str] = []  # the names on the path to the current line, by depth
    for line in doc.split("::", 1)[1].strip("\n").splitlines():
        match = re.match(r"^    ((?:[│ ]   )*)(?:[├└]── )?(\w+)\s", line + " ")
        assert match, line
        depth = len(match[1]) // 4 + (1 if "──" in line else 0)
        name = match[2]
        assert name not in drawn, f"{name} is drawn twice"
        drawn[name] = parents[depth - 1] if depth else None
        parents[depth:] = [name]
    classes = {name: getattr(_exceptions, name) for name in _exceptions.__all__}
    assert set(drawn) == set(classes)
    for name, cls in classes.items():
        (base,) = cls.__bases__
        assert drawn[name] == (None if base is Exception else base.__name__), name


def _command_lines(text: str) -> list[str]:
    """The inline code spans of a page and the lines of its shell blocks (continued lines
    joined), where a command line of the docs is written."""
    spans = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.DOTALL))
    for block in re.findall(r"```(?:bash|sh|console|shell|text)?\n(.*?)```", text, re.DOTALL):
        spans += block.replace("\\\n", " ").splitlines()
    return spans


def test_every_flag_the_docs_give_a_command_is_one_of_that_command():
    """A newcomer copies ``livesession report RUN --out x.html`` from a page: each
    ``--flag`` written after ``livesession COMMAND`` (or in a span that starts with the
    command, ``dryrun --json``) is an option of that command, or of ``livesession`` itself."""
    import argparse

    from livesession import cli

    parser = cli.build_parser()
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    top = {flag for action in parser._actions for flag in action.option_strings}
    options = {
        name: top | {flag for action in each._actions for flag in action.option_strings}
        for name, each in sub.choices.items()
    }
    names = "|".join(sorted(options))
    written = re.compile(
        rf"(?:^|(?<=[\s;|&(]))(?:python -m )?livesession\s+({names})\b([^;|&)#]*)"
        rf"|^({names})\s+(--.*)$"
    )
    checked, wrong = 0, []
    for page in _PAGES:
        for line in _command_lines((ROOT / page).read_text(encoding="utf-8")):
            for match in written.finditer(line.strip()):
                command = match[1] or match[3]
                for flag in re.findall(
                    r"(?<![\w-])(--[a-z][\w-]*)", match[2] if match[1] else match[4]
                ):
                    checked += 1
                    if flag not in options[command]:
                        wrong.append(f"{page}: livesession {command} {flag}")
    assert not wrong
    assert checked > 50  # the pattern sees the docs' command lines


def test_every_dotted_livesession_name_the_docs_give_resolves():
    """``livesession.testing.strategies``, ``livesession.report.lifecycle_diagram``, ...:
    each ``livesession.x.y`` a page names in backticks is a module or an attribute of one."""
    import importlib

    checked, gone = 0, []
    for page in _PAGES:
        text = (ROOT / page).read_text(encoding="utf-8")
        for dotted in set(re.findall(r"`(livesession(?:\.\w+)+)(?:\(\))?`", text)):
            checked += 1
            parts = dotted.split(".")
            for cut in range(len(parts), 0, -1):
                try:
                    found: object = importlib.import_module(".".join(parts[:cut]))
                except ImportError:
                    continue
                break
            try:
                for part in parts[cut:]:
                    found = getattr(found, part)
            except AttributeError:
                gone.append(f"{page}: {dotted}")
    assert not gone
    assert checked > 10


def test_the_testing_page_lists_every_name_of_the_kit_with_its_docstring():
    """``livesession.testing`` is the second public module, and docs/testing.md its page:
    ``verify_session``, ``SessionTracker``, ``mark_verified``, ``run_dirs``, ``Trade``,
    ``ALIASES`` and ``ALL_FAULTS`` were in its ``__all__`` and on no page (``ALL_FAULTS``
    had no docstring at all). Each name has a row, the first line of its docstring (a
    constant's: the docstring beside its definition), and no row names anything else."""
    import inspect
    import itertools

    text = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    table = text.split("\n## What `livesession.testing` exports\n", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| `(\w+)(?:\(\))?` \| (.*) \|$", table, flags=re.MULTILINE))
    assert set(rows) == set(livesession.testing.__all__)
    source = (_SRC / "testing" / "model.py").read_text(encoding="utf-8")
    body = ast.parse(source).body
    beside = {
        node.target.id: after.value.value
        for node, after in itertools.pairwise(body)
        if isinstance(node, ast.AnnAssign)
        and isinstance(node.target, ast.Name)
        and isinstance(after, ast.Expr)
        and isinstance(after.value, ast.Constant)
    }
    for name in livesession.testing.__all__:
        value = getattr(livesession.testing, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            first = (inspect.getdoc(value) or "").splitlines()[0]
        else:
            first = beside[name]
        assert rows[name] == first.replace("``", "`"), name


def test_help_livesession_says_where_to_start_with_public_names():
    """``help(livesession)`` said two lines, nothing of where to start. It now names the
    entry points, and each name it gives (``create_run``, ``LiveSessionError``, ...) is
    public; each public name has a docstring of its own (a type alias aside: api.md)."""
    import inspect
    import types

    doc = livesession.__doc__ or ""
    named = set(re.findall(r"``(\w+)(?:\([^`]*\))?``", doc)) - {"_"}
    assert {"create_run", "LiveSessionOrchestrator", "verify_run"} <= named
    assert named <= set(livesession.__all__), named - set(livesession.__all__)
    for module in (livesession, livesession.testing):
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isclass(value):
                assert value.__dict__.get("__doc__"), f"{module.__name__}.{name}"
            elif callable(value) and not isinstance(value, types.UnionType):
                assert inspect.getdoc(value), f"{module.__name__}.{name}"


def _drawn_transitions(diagram: str) -> set[tuple[str, str, str]]:
    """(trigger, source, destination) of each arrow of README's sketch: ``A ─t─▶ B`` (a
    chain goes on from ``B``), ``A | B ─t─▶ C`` (from each), ``└─t─▶ C`` (from the line
    above's first state)."""
    arrow = re.compile(r"((?:[A-Z_]+\s*\|\s*)*[A-Z_]+)?\s*(└)?─(\w+)─▶\s*([A-Z_]+)")
    drawn, first = set(), ""
    for line in diagram.splitlines():
        at = 0
        previous = ""
        while found := arrow.search(line, at):
            if found[2]:
                sources = [first]
            elif found[1]:
                sources = [s.strip() for s in found[1].split("|")]
            else:
                sources = [previous]
            drawn |= {(found[3], source, found[4]) for source in sources}
            first = first or sources[0]
            previous = found[4]
            at = found.end() - len(found[4])
    return drawn


def test_the_readmes_lifecycle_sketch_is_the_transition_table():
    """README's sketch is a newcomer's first picture of the machine: it left out
    ``request_stop`` from ``PREFLIGHT_OK`` and named two triggers by words no code uses
    (``preflight ok``, ``preflight fail``). It draws each transition of ``TRANSITIONS``, by
    its trigger's name, and no other."""
    from livesession._domain.lifecycle import TRANSITIONS

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    diagram = text.split("```\nINIT ", 1)[1].split("```", 1)[0]
    table = {(t.value, s.value, d.value) for t, s, d in TRANSITIONS}
    assert _drawn_transitions("INIT " + diagram) == table


def _anchors(path: Path) -> set[str]:
    """The anchors of a page's headings, as GitHub makes them (a repeated one gets ``-1``)."""
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    anchors: set[str] = set()
    for heading in re.findall(r"^#{1,6} (.+)$", text, flags=re.MULTILINE):
        anchor = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        number = 0
        while (f"{anchor}-{number}" if number else anchor) in anchors:
            number += 1
        anchors.add(f"{anchor}-{number}" if number else anchor)
    return anchors


def test_every_link_between_the_pages_reaches_its_file_and_heading():
    """A newcomer follows the links from page to page: each relative link names a file of
    the checkout, and each ``#anchor`` a heading of its page (a heading renamed, the links
    to it are renamed too)."""
    checked, broken = 0, []
    for page in (*_PAGES, "CHANGELOG.md"):
        text = re.sub(r"```.*?```", "", (ROOT / page).read_text(encoding="utf-8"), flags=re.DOTALL)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            checked += 1
            name, _, anchor = target.partition("#")
            dest = (ROOT / page).parent / name if name else ROOT / page
            if not dest.exists():
                broken.append(f"{page}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
                broken.append(f"{page}: {target} (no such heading)")
    assert not broken
    assert checked > 100


def test_the_runbook_is_a_page_an_operator_can_use_under_pressure():
    """RUNBOOK.md had grown to 2,784 lines, its exit-code table's cells to thousands of
    characters: every case was appended where it was found. The page stays short, each
    table cell a line an operator reads at a glance, and each of its sections has one of the
    same name on docs/operations.md, where every case is in detail, and links to it."""
    text = (ROOT / "RUNBOOK.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 650
    prose = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    cells = [
        cell.strip()
        for line in prose.splitlines()
        if line.startswith("| ")
        for cell in line.strip().strip("|").split(" | ")
    ]
    assert [cell[:60] for cell in cells if len(cell) > 300] == []
    detail = _headings(ROOT / "docs" / "operations.md")
    for section in re.split(r"(?m)^## ", prose)[1:]:
        title = section.split("\n", 1)[0].strip()
        assert title.replace("`", "").lower() in detail, title
        assert "](docs/operations.md#" in section, f"{title}: no link to its detail"


def test_every_module_opens_with_what_it_owns():
    """A newcomer opening a file reads first what it owns: every module of the package has
    a docstring whose first line says so (a sentence, not a bare name)."""
    bare = []
    for path in sorted(_SRC.rglob("*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        first = doc.split("\n", 1)[0]
        if len(first.split()) < 4 or not first.endswith((".", "?")):
            bare.append(str(path.relative_to(_SRC)))
    assert bare == []


def test_the_cli_docstring_gives_every_exit_code():
    """``cli.py`` opens with the exit codes, where a newcomer reading the code looks first:
    it left out 143 (terminated) and 129 (hung up), and said 1 was verify's alone. Each
    ``EXIT_*`` code is in it."""
    from livesession import _cli_output, cli

    codes = {v for k, v in vars(_cli_output).items() if k.startswith("EXIT_")}
    said = {int(n) for n in re.findall(r"(?<![\w.])(\d+)\s+[a-zA-Z(]", cli.__doc__ or "")}
    assert codes - said == set()


def test_the_json_rows_name_every_command_whose_json_is_one_object():
    """docs/plugins.md's "On the command line" gave ``--json`` "on dryrun, resume, verify,
    evidence", where RUNBOOK (and ``burnin --help``) have ``burnin`` too, and its
    ``--feed`` row left out ``parquet:PATH`` and ``venue``. Each page's ``--json`` row names
    the commands whose ``--json`` is the one-object contract (``JSON_HELP``, errors
    included), and the ``--feed`` row every feed ``dryrun --help`` names."""
    import argparse

    from livesession._cli_output import JSON_HELP
    from livesession.cli import build_parser

    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    contract = {
        name
        for name, command in sub.choices.items()
        if any(a.help == JSON_HELP for a in command._actions if "--json" in a.option_strings)
    }
    assert {"dryrun", "burnin"} <= contract
    for page in ("docs/operations.md", "docs/plugins.md"):
        (row,) = [
            line
            for line in (ROOT / page).read_text(encoding="utf-8").splitlines()
            if line.startswith("| `--json` |")
        ]
        named = row.split("|")[2].split(":", 1)[0]
        assert set(re.findall(r"`(\w+)`", named)) == contract, page
    (feed,) = [a for a in sub.choices["dryrun"]._actions if "--feed" in a.option_strings]
    kinds = {"random_walk", "venue", "csv:PATH", "parquet:PATH"}
    assert kinds <= set(re.findall(r"[\w]+(?::PATH)?", feed.help or ""))
    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    (row,) = [line for line in text.splitlines() if line.startswith("| `--feed SPEC` |")]
    assert {kind for kind in kinds if f"`{kind}`" not in row} == set()


def test_the_runbooks_logrotate_config_names_the_user_its_runs_belong_to():
    """RUNBOOK's logrotate file had no ``su`` line: logrotate runs as root and skips each log
    in a directory a group other than root may write (``error: skipping ... because parent
    directory has insecure permissions``), which the RUNBOOK's own group directory (``chmod
    2775``, runs made under ``umask 002``) is: no run's log was ever rotated there."""
    text = operator_text()
    [block] = [b for b in text.split("```text\n")[1:] if b.startswith("# /etc/logrotate.d/")]
    lines = [line.strip() for line in block.split("```", 1)[0].splitlines()]
    assert "su livesession livesession" in lines
    assert "chmod 2775" in text
    assert "User=livesession" in text  # the unit's user, whom the su line names


def test_the_runbook_names_every_environment_variable_livesession_reads():
    """Bug: ``LIVESESSION_CRASH_AT`` (SIGKILL at a named point) and ``LIVESESSION_PAUSE_AT``
    (SIGSTOP), the crash harness's hooks, were named on no operator's page: one left in an
    operator's shell killed every ``dryrun`` and ``resume`` at the same point, exit 137, with
    nothing to say why. Every ``LIVESESSION_*`` name the package's code holds is on
    RUNBOOK.md, but for two that are no operator's setting (a schema's name, and the
    variable livesession sets for its own child process)."""
    not_settings = {"LIVESESSION_EVIDENCE_V1", "LIVESESSION_PARENT_SYS_PATH"}
    package = ROOT / "src" / "livesession"
    named = {
        found
        for path in package.rglob("*.py")
        for found in re.findall(r"[\"']((?:LIVESESSION_)[A-Z0-9_]+)[\"']", path.read_text("utf-8"))
    }
    assert {"LIVESESSION_CRASH_AT", "LIVESESSION_PAUSE_AT", "LIVESESSION_PG_DSN"} <= named
    runbook = (ROOT / "RUNBOOK.md").read_text(encoding="utf-8")
    missing = sorted(name for name in named - not_settings if name not in runbook)
    assert not missing, f"RUNBOOK.md names no {missing}"


def _public_docstrings() -> dict[str, str]:
    """The docstring of every public name of ``livesession`` and ``livesession.testing``,
    and of each public method and property of those that are classes, by dotted name."""
    import enum
    import inspect

    found: dict[str, str] = {}
    for module, names in _PUBLIC_MODULES.items():
        for name in names:
            obj = getattr(sys.modules[module], name)
            members = [(name, obj)]
            if inspect.isclass(obj) and not issubclass(obj, enum.Enum):
                members += [
                    (f"{name}.{attr}", value)
                    for attr, value in vars(obj).items()
                    if not attr.startswith("_") and (callable(value) or isinstance(value, property))
                ]
            for dotted, member in members:
                doc = (
                    inspect.getdoc(member)
                    if callable(member) or isinstance(member, property)
                    else None
                )
                if doc:
                    found[f"{module}.{dotted}"] = doc
    return found


def test_no_public_docstring_sends_its_reader_to_a_private_name():
    """Bug: ``help(livesession.configure_logging)`` explained itself by ``_Unfailing``,
    ``help(livesession.FileLineSink)`` by ``_drop_in_child`` and its ``write_line`` by
    ``_overflow``: names a user cannot import, behind which the docstring's claim stayed
    unsaid (the orchestrator's ``preflight``, by ``LateSeal``, and ``reduce_only``, by
    "see ``verbs``", too, which this check cannot tell from a public name). A docstring of
    a public name (and of its public methods) names no private ``_name``."""
    private = re.compile(r"``(_[A-Za-z]\w*)``")
    named = {
        where: sorted(set(private.findall(doc)))
        for where, doc in _public_docstrings().items()
        if private.search(doc)
    }
    assert named == {}


def test_the_ccxt_page_names_every_option_of_make_ccxt_broker():
    """Bug: docs/ccxt.md's table of ``make_ccxt_broker``'s options ("Its options:") had no
    row for ``price_tick``, ``qty_lot`` and ``run_id``, which it takes (a broker built by
    hand without the session's grid writes ccxt's ``30000.0``). Each keyword option has a
    row; ``runtime_config``, which it requires, is in the example above the table."""
    import inspect

    from livesession import make_ccxt_broker

    text = (ROOT / "docs" / "ccxt.md").read_text(encoding="utf-8")
    section = text.split("\n## Building a broker\n", 1)[1].split("\n## ", 1)[0]
    rows = set(re.findall(r"^\| `(\w+)` \|", section, flags=re.MULTILINE))
    options = {
        name
        for name, parameter in inspect.signature(make_ccxt_broker).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    } - {"runtime_config"}
    assert "runtime_config=config" in section
    assert sorted(options - rows) == []


def test_the_basket_example_runs_every_symbol_as_written(tmp_path):
    """Bug: docs/concepts.md's basket ("One symbol a session") ran one ``dryrun --lease``
    per symbol with configs its comment gave as ``symbol = "BTC/USDT", ...``: written so,
    two of the three sessions were rejected ``LEASE_HELD`` (exit 3), since the lease is per
    (account, strategy) and all three were ``sma_demo``. The comment names each config's
    ``strategy_id`` too, and the block, run as written on configs its comment describes,
    seals all three COMPLETED."""
    import os

    text = (ROOT / "docs" / "concepts.md").read_text(encoding="utf-8")
    section = text.split("\n## One symbol a session\n", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)
    said = re.search(r'# btc\.toml: symbol = "BTC/USDT", strategy_id = "basket-btc"', block)
    assert said, block
    for name in ("btc", "eth", "sol"):
        (tmp_path / f"{name}.toml").write_text(
            f'symbol = "{name.upper()}/USDT"\nstrategy_id = "basket-{name}"\nsteps = 20\n',
            encoding="utf-8",
        )
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(
        ["bash", "-c", block],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "LEASE_HELD" not in proc.stderr, proc.stderr
    verdicts = [line.split()[1] for line in proc.stdout.splitlines()[-3:]]
    assert verdicts == ["completed"] * 3, proc.stdout


def test_names_py_is_the_one_owner_of_every_run_file_name():
    """docs/modules.md says ``_artifacts/names.py`` is "the one owner of every
    artifact file name": ``testing/tracking.py`` spelt ``events.jsonl``, ``audit.jsonl``,
    ``state_snapshots.jsonl`` and ``metrics.json`` out again, ``_artifacts/runfiles.py``
    ``idempotency.sqlite``, and ``_artifacts/sinks.py`` ``events.jsonl``. No module but
    names.py writes a run file's name as a string (docstrings aside)."""
    from livesession._artifacts import names

    owned = {
        value
        for key, value in vars(names).items()
        if key.isupper() and isinstance(value, str) and "." in value
    }
    assert {"events.jsonl", "idempotency.sqlite", "writer.lock"} <= owned
    assert "`names.py`: the one owner of every artifact file name" in _index()
    spelt: list[str] = []
    for path in sorted((ROOT / "src" / "livesession").rglob("*.py")):
        if path == ROOT / "src" / "livesession" / "_artifacts" / "names.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        spelt += [
            f"{path.relative_to(ROOT)}:{node.lineno}: {node.value}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and id(node) not in docstrings and node.value in owned
        ]
    assert spelt == []


def test_clock_py_is_the_only_reader_of_time_in_domain_and_session():
    """docs/concepts.md's map: ``_domain/clock.py`` is "the only reader of time in
    ``_domain/`` and ``_session/``". No other module of either calls
    ``time.time``, ``time.monotonic``, ``time.perf_counter`` (or their ``_ns``) or
    ``datetime.now``/``utcnow``/``today``: what a run records is stamped through the
    injected clock, or a run would not repeat."""
    readers = re.compile(
        r"\btime\.(?:time|monotonic|perf_counter)(?:_ns)?\(|\b(?:datetime|date)\.(?:now|utcnow|today)\("
    )
    src = ROOT / "src" / "livesession"
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for folder in ("_domain", "_session")
        for path in sorted((src / folder).rglob("*.py"))
        if path != src / "_domain" / "clock.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if readers.search(line)
    ]
    assert "the only reader of time in `_domain/` and `_session/`" in (
        ROOT / "docs" / "concepts.md"
    ).read_text(encoding="utf-8")
    assert found == []


def _walls(text: str, paragraph: int, cell: int) -> list[str]:
    """The paragraphs (a list item is one) longer than ``paragraph`` characters and the table
    cells longer than ``cell``, outside code blocks, each named by its length and opening."""
    prose = re.sub(r"```.*?```", "\n\n", text, flags=re.DOTALL)
    found = []
    for block in re.split(r"\n\s*\n", prose):
        lines = [line.strip() for line in block.strip().splitlines()]
        if lines and all(line.startswith("|") for line in lines):
            cells = [c.strip() for line in lines for c in re.split(r"(?<!\\)\|", line)]
            found += [f"cell of {len(c)}: {c[:60]}" for c in cells if len(c) > cell]
            continue
        items = re.split(r"\n(?=\s*(?:[-*] |\d+\. ))", block.strip())
        found += [
            f"paragraph of {len(item)}: {' '.join(item.split())[:60]}"
            for item in items
            if len(item) > paragraph
        ]
    return found


_READABLE = (
    "README.md",
    "RUNBOOK.md",
    "docs/ccxt.md",
    "docs/postgres.md",
    "docs/config.md",
    "docs/report.md",
    "docs/embedding.md",
    "docs/plugins.md",
    "docs/testing.md",
    "docs/development.md",
    "docs/lifecycle.md",
    "docs/api.md",
    "docs/operations.md",
    "docs/concepts.md",
    "docs/modules.md",
    "docs/artifacts.md",
    "docs/data.md",
    "docs/risk.md",
    "docs/failures.md",
    "docs/benchmarks.md",
)
"""The pages a user reads to do one thing, held to short paragraphs and cells (benchmarks.md
too: the page a reviewer reads to see where the speed targets stand)."""


@pytest.mark.parametrize("page", _READABLE)
def test_no_wall_of_text(page):
    """These pages held paragraphs of 5,000 to 15,000 characters, each edge case appended to
    the sentence that first named it, and table cells of over 1,000: a reader looking for one
    thing could not find it. A paragraph (a list item is one) stays under 1,500 characters and
    a table cell under 500; a longer case gets its own short paragraphs, list or ``###``
    sub-heading."""
    assert _walls((ROOT / page).read_text(encoding="utf-8"), paragraph=1500, cell=500) == []
