"""The report as a reviewer reads it on paper, zoomed, or by screen reader.

Before, no table had a caption (a screen reader's list of tables read "table, table,
table"; on paper a table carried over a page had no name), a chart's text alternative was
its title alone (``Close of BTC/USDT``: neither its axes nor what its marks were), a buy
fill and a sell fill were the same dot told apart by green and red only, the five kinds of
flag were the same dashed line told apart by colour only, and the rail marks' orange
(3.6:1 on white) and the halt's yellow (2.9:1) were too faint to read as the legend's text.
"""

from __future__ import annotations

import html.parser
import re
from collections import Counter
from typing import Any

import orjson
import pytest

from livesession import DryrunConfig, create_run
from livesession.report import render_report
from livesession.report._series import Flag, Point
from livesession.report._svg import WIDTH, chart

from _helpers import RaisesOnBar

_MIN_CONTRAST = 4.5  # WCAG 2 AA, normal text


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Any]:
    """A run with rails firing and the kill switch, and one that failed into the operator's
    hands; each report rendered once."""
    out = tmp_path_factory.mktemp("a11y")
    config = DryrunConfig.from_mapping(
        {
            "run_id": "rails",
            "steps": 800,
            "durability": "none",
            "strategy": {"order_qty": "0.012"},
            "risk": {"max_order_notional": "505"},
        }
    )
    session = create_run(config, out)
    session.preflight()
    session.activate()
    session.run_n_steps(400)
    assert session.kill("SIGNAL_SIGUSR1")
    session.run_n_steps(400)
    session.close()
    faulted = DryrunConfig(run_id="raised", strategy_id="raiser", steps=40, durability="none")
    session = create_run(faulted, out, strategy=RaisesOnBar(at=15))
    session.run_to_end(40, operator="cli")
    session.close()
    return {
        "rails": render_report(out / "rails"),
        "raised": render_report(out / "raised"),
        "rails_dir": out / "rails",
    }


class _Tree(html.parser.HTMLParser):
    """The elements a reader's tools see: tables, headings, charts."""

    def __init__(self, document: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[dict[str, object]] = []
        self.headings: list[int] = []
        self.charts: list[str] = []
        self.lang: str | None = None
        self._caption: list[str] | None = None
        self.feed(document)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "html":
            self.lang = found.get("lang")
        elif tag == "table":
            self.tables.append({"caption": None, "headers": [], "first": None})
        elif tag == "caption":
            self._caption = []
        elif tag == "th":
            self.tables[-1]["headers"].append(found.get("scope"))  # type: ignore[union-attr]
        if tag in ("td", "th") and self.tables[-1]["first"] is None:
            self.tables[-1]["first"] = tag
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag == "svg":
            self.charts.append(found.get("aria-label") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "caption" and self._caption is not None:
            self.tables[-1]["caption"] = "".join(self._caption).strip()
            self._caption = None

    def handle_data(self, data: str) -> None:
        if self._caption is not None:
            self._caption.append(data)


@pytest.mark.parametrize("name", ["rails", "raised"])
def test_every_table_has_a_caption_and_column_headers(runs, name):
    """A screen reader lists the tables by caption; a printed table keeps its name."""
    tree = _Tree(runs[name])

    assert tree.tables
    for table in tree.tables:
        assert table["caption"], table
        assert table["first"] == "th", table  # the header row comes first
        assert table["headers"]
        assert set(table["headers"]) == {"col"}, table  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["rails", "raised"])
def test_the_language_is_declared_and_the_headings_are_in_order(runs, name):
    """One h1, and no level skipped on the way down (h2 to h4)."""
    tree = _Tree(runs[name])

    assert tree.lang == "en"
    assert tree.headings[0] == 1
    assert tree.headings.count(1) == 1
    for before, after in zip(tree.headings, tree.headings[1:], strict=False):
        assert after <= before + 1, tree.headings


def test_every_chart_says_its_axes_and_its_marks_in_words(runs):
    """The price chart's text alternative names its axes, their ranges and each kind of
    mark with its count; every time chart names its flags."""
    document = runs["rails"]
    tree = _Tree(document)
    price = next(label for label in tree.charts if "Close of BTC/USDT" in label)

    assert price.startswith("Chart: Close of BTC/USDT, over time.")
    assert re.search(
        r"Horizontal axis: time, UTC, from 2026-01-01 00:00:00 to 2026-01-01 13:20:00\.",
        price,
    )
    assert re.search(r"Vertical axis: Close of BTC/USDT, from 4[\d,.]+ to 4[\d,.]+;", price)
    lines = (runs["rails_dir"] / "events.jsonl").read_bytes().splitlines()
    fills = Counter(
        event["payload"]["side"]
        for event in map(orjson.loads, lines)
        if event["event_type"] == "ORDER_FILLED"
    )
    assert fills["BUY"]
    assert fills["SELL"]
    assert f"{fills['BUY']} buy fill(s) at their price (dot with an up chevron)" in price
    assert f"{fills['SELL']} sell fill(s) at their price (dot with a down chevron)" in price
    assert re.search(r"\d+ order\(s\) a rail blocked \(diamond on the bottom edge\)", price)
    time_charts = [label for label in tree.charts if label.startswith("Chart: ")]
    assert len(time_charts) == 5
    for label in time_charts:
        assert "Dashed vertical lines, each labelled with its kind: kill (2)." in label
    timeline = tree.charts[-1]
    assert timeline.startswith("State timeline: each state the session moved through")


def test_a_fill_shows_its_side_by_shape_and_a_flag_its_kind_by_a_label(runs):
    """Green and red are not the only difference between a buy and a sell fill, nor colour
    the only difference between a kill, a halt, an operator action and a fault."""
    document = runs["rails"] + runs["raised"]
    fills = re.findall(
        r'<circle cx="([\d.]+)" cy="([\d.]+)" r="\d" fill="#[0-9a-f]+"><title>ORDER_FILLED '
        r'(BUY|SELL)[^<]*</title></circle><path class="side" d="M[\d.]+ [\d.]+l3 (-?3)l3 (-?3)"/>',
        document,
    )
    assert {side for *_, side, _, _ in fills} == {"BUY", "SELL"}
    assert len(fills) == document.count("<title>ORDER_FILLED ")
    for *_, side, up, down in fills:
        assert (up, down) == (("-3", "3") if side == "BUY" else ("3", "-3"))
    flags = re.findall(r'class="flag">(\w+)</text><g class="flag-(\w+)">', document)
    assert {kind for kind, _ in flags} >= {"kill", "halt", "operator", "fault"}
    assert all(label == kind for label, kind in flags)
    assert len(flags) == len(re.findall(r'<g class="flag-', document))
    style = document.split("<style>")[1].split("</style>")[0]
    assert re.search(r"svg path\.side \{[^}]*stroke: #fff;", style)


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(one: str, other: str) -> float:
    high, low = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _six(colour: str) -> str:
    return colour if len(colour) == 7 else "#" + "".join(2 * c for c in colour[1:])


@pytest.mark.parametrize("name", ["rails", "raised"])
def test_every_text_colour_reads_on_its_background(runs, name):
    """WCAG's 4.5:1 for every text colour of the stylesheet, the inline styles (the
    legends' and the badge's) and the charts' text, against white and any badge fill."""
    document = runs[name]
    style = document.split("<style>")[1].split("</style>")[0]
    texts = {_six(c) for c in re.findall(r"(?<![-\w])(?:color|fill): (#[0-9a-fA-F]{3,6})\b", style)}
    texts |= {_six(c) for c in re.findall(r'style="[^"]*\bcolor:(#[0-9a-f]{6})', document)}
    assert len(texts) > 10
    for colour in sorted(texts):
        assert _contrast(colour, "#ffffff") >= _MIN_CONTRAST, colour
    for fill, colour in re.findall(
        r'style="background:(#[0-9a-f]{6});[^"]*color:(#[0-9a-f]{6})', document
    ):
        assert _contrast(colour, fill) >= _MIN_CONTRAST, (colour, fill)


def test_it_prints_a_table_with_its_caption_and_its_header_on_every_page(runs):
    """A caption stays with its table; a table carried over pages repeats its header."""
    printed = runs["rails"].split("@media print {")[1].split("</style>")[0]

    assert re.search(
        r"\bcaption \{ break-after: avoid; \}|h3, caption \{ break-after: avoid; \}", printed
    )
    assert "thead { display: table-header-group; }" in printed
    assert "background" not in printed  # nothing inked dark for paper


@pytest.mark.parametrize("at", [0, 50, 99, 100])
def test_a_flags_label_stays_on_the_chart_wherever_its_line_is(at):
    """A flag at the run's end (an operator's acknowledgement, a fault at the last step) had
    its label start past the plot's right edge, cut off at the chart's border."""
    drawn = chart(
        "Equity",
        [("equity", "#0f766e", [Point(ts_sim=0, value=1.0), Point(ts_sim=100, value=2.0)])],
        [],
        (0, 100),
        flags=[Flag(ts_sim=at, kind="operator", label="OPERATOR_ACK")],
    )
    label = re.search(r'<text x="([\d.]+)"( text-anchor="end")? y="\d+" class="flag">', drawn)
    assert label is not None
    x, anchored_at_end = float(label.group(1)), bool(label.group(2))
    room = 60  # "operator" in 10-pixel type, and a margin
    assert (x - room if anchored_at_end else x + room) <= WIDTH
    assert (x - room if anchored_at_end else x) >= 0
