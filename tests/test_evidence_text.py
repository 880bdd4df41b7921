r"""The EV document holds a run's text as one printable line that renders as itself.

Before, the document copied a plug-in's text raw: a strategy's exception message with
newlines wrote a ``- Result: **PASS** (forged)`` line and a ``## Secret scan`` section of its
own, an unclosed ``<!--`` hid the rest of the document in a Markdown viewer, and ``<script>``
and ESC sequences (the "First difference" line's too) went in byte for byte. RUNBOOK says a
plug-in's text is put "on one printable line", as the stderr line and report.html put it.
The documents are parsed here as a Markdown viewer parses them (markdown-it-py, which rich
brings: CommonMark with GitHub's tables).
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from livesession import DryrunConfig, create_run
from livesession._support.text import md_cell, md_code, md_said, md_text, one_line
from livesession.burnin import render_markdown
from livesession.evidence import write_evidence
from livesession.evidence._difference import first_difference
from livesession.evidence._document import markdown

FORGED = (
    "boom.\n\n- Result: **PASS** (forged)\n\n## Secret scan\n\n- none\n\n"
    '<script>alert("x")</script> <img src=x onerror=alert(2)> \x1b[31mRED\x1b[0m '
    "\x1b]0;TITLE\x07 `code` | cell | [link](http://x) &amp; __bold__ <!--"
)
"""What a strategy's exception message (and an operator's words) may hold."""

_PARSER = MarkdownIt("commonmark").enable("table")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def _inline(markup: str) -> list[Any]:
    """What ``markup``'s blocks hold (their inline tokens' children), as a viewer reads it."""
    return [child for token in _PARSER.parse(markup) for child in token.children or ()]


class _Raising:
    """Raises ``FORGED`` on its third bar."""

    strategy_id = "raiser"

    def __init__(self) -> None:
        self.bars = 0

    def on_bar(self, bar: Any, view: Any) -> list[Any]:
        self.bars += 1
        if self.bars == 3:
            raise RuntimeError(FORGED)
        return []

    def get_state(self) -> dict[str, Any]:
        return {"bars": self.bars}

    def set_state(self, state: dict[str, Any]) -> None:
        self.bars = state["bars"]


@pytest.fixture(name="bundle", scope="module")
def _bundle(tmp_path_factory):
    """A run killed and re-enabled by an operator with ``FORGED`` words, then failed by a
    strategy raising ``FORGED``: its evidence (manifest, document)."""
    out = tmp_path_factory.mktemp("runs")
    cfg = DryrunConfig(run_id="forged", strategy_id="raiser", steps=10, durability="none")
    session = create_run(cfg, out, strategy=_Raising())
    session.preflight()
    session.activate()
    session.run_n_steps(1)
    assert session.kill(FORGED)
    assert session.reenable_trading(FORGED)
    session.run_to_end(10)
    session.close()
    result = write_evidence(out / "forged")
    return orjson.loads(result.manifest.read_bytes()), result.document.read_text("utf-8")


class TestTheDocument:
    def test_the_run_did_carry_the_text(self, bundle):
        """The manifest keeps the text as given (JSON escapes it): the document must not."""
        manifest, _ = bundle
        assert FORGED in orjson.dumps(manifest["outcome"]).decode("unicode_escape")
        assert manifest["outcome"]["fault"]["reason"] == "STRATEGY_ERROR"

    def test_no_control_character_and_no_raw_markup(self, bundle):
        _, document = bundle
        assert not _CONTROL.search(document), "an ESC or other control character went in"
        assert "\\x1b\\[31mRED" in document  # said as one_line says it, bracket escaped
        html = _PARSER.render(document)
        for raw in ("<script", "<img", "<!--"):
            assert raw not in html
        assert "&lt;script&gt;" in html

    def test_its_sections_and_result_are_its_own(self, bundle):
        _, document = bundle
        tokens = _PARSER.parse(document)
        headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
        assert headings.count("Secret scan") == 1
        assert headings[-1] == "Approval"
        results = [t.content for t in tokens if t.type == "inline" and t.content[:7] == "Result:"]
        assert results == ["Result: **FAIL** (failed: " + results[0][26:]]  # the burn-in's
        said = [
            t.content for t in tokens if t.type == "inline" and t.content[:12] == "Evidence: **"
        ]
        assert said == [
            (
                "Evidence: **VERIFIED** (the run's files are intact and every check of the bundle "
                "passed: this says the record is sound, not that the run went well)."
            )
        ]
        ended = [t.content for t in tokens if t.type == "inline" and t.content[:10] == "Run ended:"]
        assert ended == [ended[0]]
        assert ended[0].startswith("Run ended: **FAILED**: STRATEGY_ERROR (RuntimeError: boom. ")
        children = [child for t in tokens for child in t.children or ()]
        bold = [children[i + 1].content for i, c in enumerate(children) if c.type == "strong_open"]
        assert (bold.count("VERIFIED"), bold.count("PASS")) == (1, 0)  # the forged one: text
        assert not [t for t in tokens if t.type in ("html_block", "html_inline")]

    def test_the_fault_is_one_line_that_shows_the_message(self, bundle):
        _, document = bundle
        (line,) = [x for x in document.splitlines() if x.startswith("- Fault ")]
        (item,) = [t for t in _PARSER.parse(line) if t.type == "inline"]
        shown = "".join(c.content for c in item.children if c.type in ("text", "code_inline"))
        assert one_line(FORGED) in shown

    def test_the_first_difference_line_holds_no_escape_sequence(self, bundle, tmp_path):
        """A run whose line holds an ESC sequence where the re-run's does not."""
        manifest, _ = bundle
        ours, theirs = tmp_path / "events.jsonl", tmp_path / "again.jsonl"
        ours.write_bytes(b'{"event_type":"EVIL\\u001b]0;PWNED\\u0007\\u001b[2J","seq":6}\n')
        theirs.write_bytes(b'{"event_type":"BAR","seq":6}\n')
        determinism = {"status": "MISMATCH", "first_difference": first_difference(ours, theirs)}
        assert "\x1b" in determinism["first_difference"]
        document = markdown(manifest | {"determinism": determinism}, tmp_path)
        (line,) = [x for x in document.splitlines() if x.startswith("First difference:")]
        assert not _CONTROL.search(line)
        assert "EVIL\\x1b\\]0;PWNED\\x07\\x1b\\[2J (seq 6) in the run" in line

    def test_the_burn_in_report_too(self):
        session = {
            "run_id": "b`x",
            "strategy_id": "s\x1b[2J`x",
            "config_hash": "c<!--",
            "run_version": "0.2.0\n## forged",
            "audit_head": "h*x*",
            "ok": False,
            "verdict": "FAIL",
            "not_measured": ["flatten"],
            "notes": ["halted\n## forged <script>x</script>"],
            "criteria": [
                {
                    "name": "completed",
                    "threshold": "sealed COMPLETED",
                    "value": "FAILED\n## forged",
                    "result": "FAIL",
                    "detail": FORGED,
                }
            ],
        }
        text = render_markdown(session)
        tokens = _PARSER.parse(text)
        assert [t.tag for t in tokens if t.type == "heading_open"] == ["h1"]
        cells = [t.content for t in tokens if t.type == "inline"][-5:]
        assert cells[2] == md_text("FAILED\n## forged")
        assert "<script" not in _PARSER.render(text)
        assert not _CONTROL.search(text)

    def test_what_it_ran_on_and_its_failure_paths_too(self):
        """The run directory, the data file, the plug-ins' references and the failure paths'
        details come from the run's files (a directory's name, an operator's kill reason):
        each is one line of text in the report, adding no heading, tag or row."""
        session = {
            "run_id": "r",
            "strategy_id": "s",
            "config_hash": "c",
            "run_version": "0.2.0",
            "audit_head": "h",
            "ok": True,
            "verdict": "PASS",
            "not_measured": [],
            "notes": [],
            "criteria": [],
            "run_dir": "/runs/x`\n## forged",
            "data": {"feed": "csv:a`b\n# f.csv", "sha256": "<!--", "bytes": "1\n## f"},
            "code": {"strategy\n## f": {"ref": "m:f`\x1b[2J", "sha256": "<script>"}},
            "failure_paths": [
                {"path": "kill_switch", "exercised": True, "count": 1, "detail": FORGED}
            ],
        }
        text = render_markdown(session)
        tokens = _PARSER.parse(text)
        assert [t.tag for t in tokens if t.type == "heading_open"] == ["h1", "h2"]
        rows = [t for t in tokens if t.type == "tr_open"]
        assert len(rows) == 1 + 1 + 1  # the criteria's header, the paths' header and row
        assert "<script" not in _PARSER.render(text)
        assert "<!--" not in _PARSER.render(text)
        assert not _CONTROL.search(text)


_TEXT = (
    st.text(st.characters(codec="utf-8"), max_size=40)
    | st.text(st.sampled_from("-+=*_`#<>!&|[]()\\ 1.a\n\x1b"), max_size=12)
    | st.sampled_from([FORGED, "- x", "1. x", "# x", "***", "a\\*b", "x\\", "__init__", "-4.5"])
)


@given(_TEXT)
def test_md_text_shows_the_one_line_and_nothing_else(text):
    """Wherever the document puts it (a list item, after words, a table's cell)."""
    line = one_line(text)
    assume(line)  # the document never writes an empty one
    for markup, before, blocks in (
        (f"- {md_text(text)}", "", 1),
        (f"Reason: {md_text(text)}", "Reason: ", 1),
        (f"| a | b |\n| --- | --- |\n| x | {md_text(text)} |", "", 4),
    ):
        inline = [t for t in _PARSER.parse(markup) if t.type == "inline"]
        assert len(inline) == blocks, markup
        children = inline[-1].children or []
        assert all(child.type == "text" for child in children), (markup, children)
        assert "".join(child.content for child in children) == before + line, markup


@given(_TEXT)
def test_md_code_shows_the_one_line_as_code(text):
    line = one_line(text)
    children = _inline(f"- {md_code(text)}")
    assert [child.type for child in children] == ["code_inline"]
    assert children[0].content == (line or " ")


@given(_TEXT)
def test_md_said_shows_its_spans_as_code_and_the_rest_as_text(text):
    """The verdict lines' sentences (``the run is not sealed: `livesession resume DIR`
    finishes it``): each span between backticks is code, the rest text, and nothing else.
    ``md_text`` showed the command's backticks, escaped, and no code."""
    line = one_line(text)
    assume(line)
    children = _inline(f"- {md_said(text)}")
    assert {child.type for child in children} <= {"text", "code_inline"}, children
    spans = re.findall(r"`([^`]+)`", line)
    code = [child.content for child in children if child.type == "code_inline"]
    assert code == [one_line(span) or " " for span in spans]
    said = "".join(child.content for child in children if child.type == "text")
    assert said == re.sub(r"`[^`]+`", "", line)


def _cells(markup: str) -> list[list[Any]]:
    """The cells of ``markup``'s one body row, each as its inline children."""
    tokens = _PARSER.parse(markup)
    body = tokens[next(n for n, t in enumerate(tokens) if t.type == "tbody_open") :]
    return [t.children or [] for t in body if t.type == "inline"]


@given(_TEXT)
def test_md_cell_shows_its_spans_as_code_in_one_cell(text):
    """A criterion's detail in burnin.md's table: each span between backticks is code, the
    rest text, in the one cell (a ``|``, in a span too, ends none)."""
    line = one_line(text)
    assume(line)
    cells = _cells(f"| a | b |\n| --- | --- |\n| x | {md_cell(text)} |\n")
    assert len(cells) == 2, cells
    children = cells[1]
    assert {child.type for child in children} <= {"text", "code_inline"}, children
    spans = re.findall(r"`([^`]+)`", line)
    code = [child.content for child in children if child.type == "code_inline"]
    assert code == [one_line(span) or " " for span in spans]
    said = "".join(child.content for child in children if child.type == "text")
    assert said.strip() == re.sub(r"`[^`]+`", "", line).strip()


def test_burnin_s_drill_advice_shows_its_commands_as_code():
    """``burnin.md`` escaped the backticks of a criterion's detail: the flatten row read
    ``(run \\`livesession evidence DIR\\`, ...)``, the backticks shown, no command as code."""
    detail = (
        "no wall-time kill drill for this run (run `livesession evidence /runs/a|b`, or "
        "`livesession burnin /runs/a --drill`): skipped, not passed"
    )
    session = {
        "run_id": "r", "strategy_id": "s", "config_hash": "c", "run_version": "0.2.0",
        "audit_head": "h", "ok": True, "verdict": "PASS", "not_measured": ["flatten"],
        "notes": [], "criteria": [{
            "name": "flatten", "threshold": "<= 2 s wall time", "value": None,
            "result": "not measured", "detail": detail,
        }],
    }  # fmt: skip
    cells = _cells(render_markdown(session))
    assert len(cells) == 5, cells
    code = [child.content for child in cells[4] if child.type == "code_inline"]
    assert code == ["livesession evidence /runs/a|b", "livesession burnin /runs/a --drill"]
    said = "".join(child.content for child in cells[4] if child.type == "text")
    assert "`" not in said
    assert said == "no wall-time kill drill for this run (run , or ): skipped, not passed"


def test_md_said_of_the_resume_advice():
    said = md_said("the run is not sealed: `livesession resume /runs/a_b` finishes it")
    assert said == "the run is not sealed: `livesession resume /runs/a_b` finishes it"
