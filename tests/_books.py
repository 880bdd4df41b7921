"""A risk officer's check of a run's books, independent of the session that kept them.

``recompute(run_dir)`` reads the run's files alone (``config.json``, ``events.jsonl``, the
final state snapshot, the venue journal ``broker_journal.jsonl``) and works the books out
again: position, average price, cash, realised PnL, equity, the day's PnL, the orders
sent per client order id (in the events and at the venue) and the venue's own position,
from the requests its journal records. Nothing of the session's code is used for it.

``disagreements(run_dir, cli=...)`` holds that recomputation to everything livesession
says about the run: the fills' own ``POSITION_CHANGED`` and ``SESSION_STOPPED``, the final
snapshot, the CLI's ``--json`` summary, ``status --json``, ``metrics.json``, the report's
Key metrics and Profit and loss, ``prom``'s gauges and the evidence manifest. It returns
every disagreement as one line; an empty list is a clean bill.
"""

from __future__ import annotations

import contextlib
import html
import io
import itertools
import json
import re
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

ZERO = Decimal(0)
DAY_NS = 86_400 * 10**9
FILLS = frozenset({"ORDER_FILLED", "ORDER_PARTIALLY_FILLED"})
CLOSED = frozenset({"ORDER_FILLED", "ORDER_CANCELED", "ORDER_REJECTED"})
RECONCILER_CLOSES = frozenset({"NOT_SENT", "CLOSED", "DROPPED"})
OPERATOR = "ERROR_REQUIRES_OPERATOR"
MOMENTS = frozenset({"KILL_SWITCH", "STRATEGY_ERROR", "FEED_ERROR", "TRADING_STATE_CHANGED"})


@dataclass
class Books:
    """What a run's files add up to, worked out apart from the session."""

    initial_cash: Decimal
    tick: Decimal
    lot: Decimal
    cash: Decimal = ZERO
    positions: dict[str, Decimal] = field(default_factory=dict)
    cost: dict[str, Fraction] = field(default_factory=dict)
    closes: dict[str, Decimal] = field(default_factory=dict)
    realised: Fraction = Fraction(0)
    fills: int = 0
    full_fills: int = 0
    closing_fills: int = 0
    won: int = 0
    steps: int = 0
    day: int | None = None
    day_start: Decimal = ZERO
    sent: Counter[str] = field(default_factory=Counter)
    open: set[str] = field(default_factory=set)
    venue_sends: Counter[str] = field(default_factory=Counter)
    venue_positions: dict[str, Decimal] = field(default_factory=dict)
    stopped: dict[str, Any] | None = None
    flat_claims: list[tuple[int, int]] = field(default_factory=list)
    """Each ``KILL_SWITCH_FLAT`` (or flat ``KILL_SWITCH``): its seq and simulated time."""
    venue_timeline: list[tuple[int, dict[str, Decimal]]] = field(default_factory=list)
    moments: list[tuple[str, dict[str, Decimal]]] = field(default_factory=list)
    """The position held as a kill, a fault or a stop came (what the run was tested with)."""
    final: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)

    def held(self) -> dict[str, Decimal]:
        """The non-zero positions."""
        return {s: q for s, q in self.positions.items() if q}

    def equity(self) -> Decimal:
        """Cash plus each position at its symbol's last close."""
        return self.cash + sum(
            (q * self.closes.get(s, ZERO) for s, q in self.positions.items()), ZERO
        )

    def avg(self, symbol: str) -> Decimal:
        """The average entry price, exact, rounded once half-even to the tick (0 flat)."""
        qty = self.positions.get(symbol, ZERO)
        if not qty:
            return ZERO
        exact = self.cost[symbol] / Fraction(abs(qty))
        value = Decimal(exact.numerator) / Decimal(exact.denominator)
        return value.quantize(self.tick, rounding=ROUND_HALF_EVEN)

    def fill(self, payload: dict[str, Any]) -> None:
        """Book one fill: cash, position, average cost, realised PnL."""
        symbol = payload["symbol"]
        qty = Decimal(payload["quantity"])
        price = Decimal(payload["price"])
        sign = 1 if payload["side"] == "BUY" else -1
        self.fills += 1
        self.cash -= sign * qty * price
        held = self.positions.get(symbol, ZERO)
        cost = self.cost.get(symbol, Fraction(0))
        if held and (held > 0) != (sign > 0):  # reduces (and maybe flips) the position
            closed = min(qty, abs(held))
            avg = cost / Fraction(abs(held))
            gain = Fraction(closed) * (Fraction(price) - avg) * (1 if held > 0 else -1)
            self.realised += gain
            self.closing_fills += 1
            self.won += gain > 0
            cost -= avg * Fraction(closed)
            rest = qty - closed
            if abs(held) == closed:
                cost = Fraction(0)
            cost += Fraction(rest) * Fraction(price)
        else:
            cost += Fraction(qty) * Fraction(price)
        self.positions[symbol] = held + sign * qty
        self.cost[symbol] = cost if self.positions[symbol] else Fraction(0)


def _lines(path: Path) -> list[dict[str, Any]]:
    """The whole JSON lines of a file (a torn last line is no record)."""
    if not path.exists():
        return []
    lines = path.read_bytes().splitlines(keepends=True)
    return [json.loads(raw) for raw in lines if raw.endswith(b"\n")]


def recompute(run_dir: Path) -> Books:
    """Work a run's books out again from its files alone."""
    config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    books = Books(
        initial_cash=Decimal(config["initial_cash"]),
        tick=Decimal(config["price_tick"]),
        lot=Decimal(config["qty_lot"]),
    )
    books.cash = books.initial_cash
    books.day_start = books.initial_cash
    rejected: set[str] = set()
    for event in _lines(run_dir / "events.jsonl"):
        _apply(books, event, rejected)
    snapshots = _lines(run_dir / "state_snapshots.jsonl")
    books.final = snapshots[-1] if snapshots else None
    _walk_venue(books, run_dir / "broker_journal.jsonl", rejected)
    for seq, ts in books.flat_claims:
        venue: dict[str, Decimal] = {}
        for now, held in books.venue_timeline:
            if now > ts:
                break
            venue = held
        if any(venue.values()):
            books.problems.append(
                f"events.jsonl:{seq}: the kill switch says flat, the venue holds {venue}"
            )
    return books


def _apply(books: Books, event: dict[str, Any], rejected: set[str]) -> None:
    kind = event["event_type"]
    payload = event["payload"]
    handler = _HANDLERS.get(kind)
    if handler is not None:
        handler(books, event, payload)
    if kind == "KILL_SWITCH_FLAT":
        books.flat_claims.append((event["seq"], event["ts_sim"]))
        if books.held():
            books.problems.append(f"events.jsonl:{event['seq']}: {kind}, books hold {books.held()}")
    if kind in MOMENTS or (kind == "STATE_CHANGED" and payload["to_state"] == "STOPPING"):
        books.moments.append((kind, books.held()))
    if kind in CLOSED or (kind == "RECONCILED" and payload.get("action") in RECONCILER_CLOSES):
        books.open.discard(payload["client_order_id"])
    if kind == "ORDER_REJECTED" and "order_event_id" in payload:
        rejected.add(payload["client_order_id"])


def _on_bar(books: Books, event: dict[str, Any], payload: dict[str, Any]) -> None:
    day = event["ts_sim"] // DAY_NS
    if books.day is not None and day != books.day:
        books.day_start = books.equity()  # marked at the close before the day's first bar
    books.day = day
    books.closes[payload["symbol"]] = Decimal(payload["close"])
    books.steps += 1


def _on_fill(books: Books, event: dict[str, Any], payload: dict[str, Any]) -> None:
    books.fill(payload)
    books.full_fills += event["event_type"] == "ORDER_FILLED"


def _on_submitted(books: Books, _event: dict[str, Any], payload: dict[str, Any]) -> None:
    books.sent[payload["client_order_id"]] += 1
    books.open.add(payload["client_order_id"])


def _on_position(books: Books, event: dict[str, Any], payload: dict[str, Any]) -> None:
    symbol = payload["symbol"]
    ours = {
        "position": books.positions.get(symbol, ZERO),
        "avg_price": books.avg(symbol),
        "cash": books.cash,
        "equity": books.equity(),
    }
    for name, value in ours.items():
        if Decimal(payload[name]) != value:
            books.problems.append(
                f"events.jsonl:{event['seq']}: POSITION_CHANGED {name} {payload[name]}, "
                f"books {value}"
            )


def _on_stopped(books: Books, _event: dict[str, Any], payload: dict[str, Any]) -> None:
    books.stopped = payload


_HANDLERS: dict[str, Callable[[Books, dict[str, Any], dict[str, Any]], None]] = {
    "BAR": _on_bar,
    "ORDER_FILLED": _on_fill,
    "ORDER_PARTIALLY_FILLED": _on_fill,
    "ORDER_SUBMITTED": _on_submitted,
    "POSITION_CHANGED": _on_position,
    "SESSION_STOPPED": _on_stopped,
}


def _requests(journal: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """The venue journal's requests that stand, each ``(op, entry)``, in order.

    A resume marker voids the requests between the checkpoint's offset and itself (the
    process that made them died); a voided send the resumed process made again is the
    ``replay`` that names it, and stands as that send, once.
    """
    raw_lines = [r for r in journal.read_bytes().splitlines(keepends=True) if r.endswith(b"\n")]
    entries = [json.loads(raw) for raw in raw_lines]
    starts = list(itertools.accumulate((len(raw) for raw in raw_lines), initial=0))
    voids = [
        (e["offset"], at) for e, at in zip(entries, starts, strict=False) if e["op"] == "resume"
    ]
    aside: dict[str, dict[str, Any]] = {}
    for entry, at in zip(entries, starts, strict=False):
        op = entry["op"]
        if op in {"deliver", "resume"}:
            continue
        if any(lo <= at < hi for lo, hi in voids):
            if op == "submit":
                aside[entry["order"]["client_order_id"]] = entry
        elif op == "replay":
            yield "submit", {**aside.pop(entry["cid"]), "now_ns": entry["now_ns"]}
        else:
            yield op, entry


def _walk_venue(books: Books, journal: Path, rejected: set[str]) -> None:
    """The venue's position and sends, from the requests its journal records."""
    if not journal.exists():
        return
    orders: dict[str, dict[str, Any]] = {}
    resting: set[str] = set()
    for op, entry in _requests(journal):
        if op == "submit":
            order = entry["order"]
            cid = order["client_order_id"]
            books.venue_sends[cid] += 1
            if books.venue_sends[cid] > 1 or cid in rejected:
                continue  # the venue refuses a second send of one id
            orders[cid] = order
            if order["order_type"] == "MARKET" and entry["price"] is not None:
                _venue_fill(books, order, entry["now_ns"])
            else:
                resting.add(cid)
        elif op == "touch" and entry["cid"] in resting:
            order = orders[entry["cid"]]
            _venue_fill(books, order, entry["now_ns"])
            group = order.get("oco_group")  # the venue's OCO: a leg that fills ends the other
            resting -= {
                c
                for c in resting
                if c == entry["cid"] or (group and orders[c].get("oco_group") == group)
            }
        elif op == "cancel":
            resting.discard(entry["cid"])


def _venue_fill(books: Books, order: dict[str, Any], now_ns: int) -> None:
    symbol = order["symbol"]
    held = books.venue_positions.get(symbol, ZERO)
    qty = Decimal(order["quantity"])
    sign = 1 if order["side"] == "BUY" else -1
    if order["reduce_only"]:
        qty = min(qty, max(held if sign < 0 else -held, ZERO))
    books.venue_positions[symbol] = held + sign * qty
    books.venue_timeline.append((now_ns, dict(books.venue_positions)))


# -- what livesession says ---------------------------------------------------------------


def cli(*args: str | Path, timeout: float = 300) -> str:
    """What ``livesession ARGS`` prints on stdout, run in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "livesession.cli", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    ).stdout


def in_process(*args: str | Path) -> str:
    """What ``livesession ARGS`` prints on stdout, run in this process (the suite's speed)."""
    from livesession.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        main([str(a) for a in args])
    return out.getvalue()


def _same(name: str, said: object, ours: Decimal, out: list[str]) -> None:
    if said is None or Decimal(str(said)) != ours:
        out.append(f"{name}: says {said}, books {ours}")


def _positions(name: str, said: dict[str, str] | None, books: Books, out: list[str]) -> None:
    held = {s: Decimal(q) for s, q in (said or {}).items() if Decimal(q)}
    if held != books.held():
        out.append(f"{name}: positions {said}, books {books.held()}")


def disagreements(
    run_dir: Path,
    *,
    cli_json: dict[str, Any] | None = None,
    tools: bool = True,
    say: Callable[..., str] = cli,
) -> list[str]:
    """Every way the run's tools disagree with its books worked out again (empty: none).

    ``cli_json``: what ``dryrun --json`` (or ``resume --json``) printed; ``tools``: ask
    ``status``, ``prom`` and ``report`` too, through ``say`` (a child process, or
    ``in_process``).
    """
    books = recompute(run_dir)
    out = list(books.problems) + _sends(books, sealed=books.stopped is not None)
    if books.stopped is None:  # not sealed: only the sends and the fills' own records
        return out
    out += _sealed(run_dir, books)
    in_doubt = _venue_held(books) != books.held()
    if cli_json is not None and cli_json.get("ok") is not False:
        out += _summary(cli_json, books, in_doubt=in_doubt)
    if tools:
        out += _tools(run_dir, books, say, in_doubt=in_doubt)
    return out


def _sends(books: Books, *, sealed: bool) -> list[str]:
    """Each order sent once in the events, and once to the venue; none the events miss
    (once sealed: a process killed just after a send had no time to record it)."""
    out = [f"client order id {c} submitted {n} times" for c, n in books.sent.items() if n > 1]
    out += [f"{c} reached the venue {n} times" for c, n in books.venue_sends.items() if n > 1]
    unrecorded = set(books.venue_sends) - set(books.sent)
    if unrecorded and sealed:
        out.append(f"the venue holds sends the events never record: {sorted(unrecorded)}")
    return out


def _sealed(run_dir: Path, books: Books) -> list[str]:
    """The seal's own records and metrics.json, and the venue flat when the run says so."""
    out: list[str] = []
    equity = books.equity()
    assert books.stopped is not None
    _same("SESSION_STOPPED equity", books.stopped["equity"], equity, out)
    _same("SESSION_STOPPED pnl", books.stopped["pnl"], equity - books.initial_cash, out)
    final = books.final or {}
    _positions("final snapshot", final.get("positions"), books, out)
    _same("final snapshot equity", final.get("equity"), equity, out)
    snapshot_open = {o["client_order_id"] for o in final.get("open_orders", [])}
    if snapshot_open != books.open:
        out.append(
            f"final snapshot open orders {sorted(snapshot_open)}, books {sorted(books.open)}"
        )
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    sent = Decimal(sum(books.sent.values()))
    _same("metrics.json orders_submitted", metrics["orders_submitted"], sent, out)
    _same("metrics.json fills", metrics["fills"], Decimal(books.fills), out)
    _same("metrics.json steps", metrics["steps"], Decimal(books.steps), out)
    venue = _venue_held(books)
    if venue != books.held() and final.get("fsm_state") != OPERATOR:
        out.append(f"sealed {final.get('fsm_state')}: venue holds {venue}, books {books.held()}")
    return out


def _summary(said: dict[str, Any], books: Books, *, in_doubt: bool) -> list[str]:
    """The CLI's ``--json`` summary of the run."""
    out: list[str] = []
    equity = books.equity()
    _positions("dryrun --json", said.get("positions"), books, out)
    _same("dryrun --json equity", said.get("equity"), equity, out)
    _same("dryrun --json pnl", said.get("pnl"), equity - books.initial_cash, out)
    _same("dryrun --json orders", said.get("orders"), Decimal(sum(books.sent.values())), out)
    _same("dryrun --json fills", said.get("fills"), Decimal(books.fills), out)
    opened = len(said.get("open_orders") or [])
    _same("dryrun --json open_orders", opened, Decimal(len(books.open)), out)
    if in_doubt and not (said.get("position_in_doubt") or said.get("state") == OPERATOR):
        venue = _venue_held(books)
        out.append(f"dryrun --json: {said.get('state')}, venue holds {venue}, books {books.held()}")
    return out


def _tools(run_dir: Path, books: Books, say: Callable[..., str], *, in_doubt: bool) -> list[str]:
    """``status --json``, ``prom``'s gauges and the report, each asked as a user would."""
    out: list[str] = []
    status = json.loads(say("status", "--json", run_dir))
    _positions("status --json", status.get("positions"), books, out)
    opened = len(status.get("open_orders") or [])
    _same("status --json open_orders", opened, Decimal(len(books.open)), out)
    _same("status --json steps", status.get("steps"), Decimal(books.steps), out)
    told = status.get("position_in_doubt") or status.get("verdict") == "needs_operator"
    if in_doubt and not told:
        venue = _venue_held(books)
        out.append(f"status --json: {status.get('verdict')}, venue {venue}, books {books.held()}")
    with tempfile.TemporaryDirectory() as scratch:
        say("prom", run_dir, "--output", Path(scratch, "run.prom"))
        out += _prom(Path(scratch, "run.prom").read_text(encoding="utf-8"), books)
        say("report", run_dir, "--output", Path(scratch, "run.html"))
        text = Path(scratch, "run.html").read_text(encoding="utf-8")
        out += _report(text, books, in_doubt=in_doubt)
    return out


def _venue_held(books: Books) -> dict[str, Decimal]:
    return {s: q for s, q in books.venue_positions.items() if q}


def _prom(text: str, books: Books) -> list[str]:
    gauges = {}
    for line in text.splitlines():
        match = re.match(r"(trader_[a-z_]+)\{run_id=\"[^\"]*\"\} (\S+)$", line)
        if match:
            gauges[match[1]] = float(match[2])
    out: list[str] = []
    equity = books.equity()
    want = {
        "trader_equity": float(equity),
        "trader_positions_open": float(len(books.held())),
        "trader_orders_placed_total": float(sum(books.sent.values())),
        "trader_orders_filled_total": float(books.full_fills),
        "trader_daily_pnl": float(equity - books.day_start),
    }
    gross = sum((abs(q) * books.closes.get(s, ZERO) for s, q in books.positions.items()), ZERO)
    want["trader_portfolio_heat"] = float(gross / equity) if equity else 0.0
    for name, value in want.items():
        if abs(gauges.get(name, float("nan")) - value) > 1e-9 * max(1.0, abs(value)):
            out.append(f"prom {name}: says {gauges.get(name)}, books {value}")
    return out


def _report(text: str, books: Books, *, in_doubt: bool) -> list[str]:
    text = re.sub(r"<(script|style).*?</\1>", "", text, flags=re.DOTALL)
    cells = [
        html.unescape(c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", text, re.DOTALL)
    ]
    rows: dict[str, str] = {}
    for label, value in itertools.pairwise(cells):
        rows.setdefault(label, value)  # the first table that names it: Key metrics, PnL
    out: list[str] = []
    equity = books.equity()
    realised = Decimal(books.realised.numerator) / Decimal(books.realised.denominator)

    def amount(label: str) -> Decimal | None:
        value = rows.get(label)
        if value is None:
            out.append(f"report: no row {label!r}")
            return None
        return Decimal(re.sub(r"<[^>]+>", "", value).split()[0].replace(",", ""))

    start = amount("start equity")
    for label, ours, slack in (
        ("final equity (marked at the last close)", equity, ZERO),
        ("net PnL", equity - (start if start is not None else books.initial_cash), ZERO),
        ("realised PnL", realised, books.tick * books.lot / 2 * books.closing_fills),
        ("fills", Decimal(books.fills), ZERO),
    ):
        said = amount(label)
        if said is not None and abs(said - ours) > slack:
            out.append(f"report {label}: says {said}, books {ours}")
    closing = rows.get("closing fills (won)", "")
    if closing != f"{books.closing_fills} ({books.won})":
        out.append(
            f"report closing fills (won): says {closing!r}, books {books.closing_fills} ({books.won})"
        )
    positions = re.sub(r"<[^>]+>", "", rows.get("final positions", "?"))
    held = books.held()
    if positions.startswith("flat") != (not held) or ("in doubt" in positions and not in_doubt):
        out.append(f"report final positions: says {positions!r}, books {held}")
    return out


def evidence_disagreements(
    run_dir: Path, out_dir: Path, *, say: Callable[..., str] = cli
) -> list[str]:
    """The evidence manifest's outcome against the books (it re-runs the run: slower)."""
    books = recompute(run_dir)
    said = json.loads(say("evidence", run_dir, "--out", out_dir, "--json"))
    out: list[str] = []
    if said.get("evidence") != "VERIFIED":
        out.append(f"evidence {said.get('evidence')}: {said.get('problems')}")
    manifest = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    outcome = manifest["outcome"]
    _positions("evidence outcome", outcome.get("positions"), books, out)
    _same("evidence outcome equity", outcome.get("equity"), books.equity(), out)
    _same("evidence outcome pnl", outcome.get("pnl"), books.equity() - books.initial_cash, out)
    if len(outcome.get("open_orders") or []) != len(books.open):
        out.append(
            f"evidence outcome open_orders {outcome.get('open_orders')}, books {sorted(books.open)}"
        )
    document = next(out_dir.glob("EV-*.md")).read_text(encoding="utf-8")
    flat_said = "position flat" in document
    if flat_said != (not books.held()):
        out.append(f"evidence document says position flat: {flat_said}, books {books.held()}")
    return out
