"""The report in proportion to the run: thinned as it reads, honest without a full verify.

The report reads a run once, thins its lines into pixel columns as it goes, and checks the
audit chain and digests itself instead of running the verifier (``--verify`` does). These
tests hold what that must not cost: a column's true extremes, a mark for every reject, rail
block and operator event, a broken chain shown as broken, and a progress bar only on a
terminal.
"""

from __future__ import annotations

import html
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from livesession import verify_run
from livesession._domain.lifecycle import Trigger
from livesession.report import _integrity, render_report
from livesession.report._integrity import LineReader
from livesession.report._series import Columns, Point
from livesession.report._svg import PLOT_COLUMNS, thin

from _helpers import carried_chunks
from _runfactory import RunBuilder, build_run


def _titles(document: str) -> list[str]:
    return [html.unescape(t) for t in re.findall(r"<title>([^<]*)</title>", document)]


def _counted(document: str, single: str, plural: str) -> int:
    """Events a chart's marks stand for: one per single mark, N per ``N <plural> here``."""
    total = 0
    for title in _titles(document):
        if f" {plural} here" in title:
            total += int(title.split()[0])
        elif title.startswith(single):
            total += 1
    return total


class TestColumns:
    """A line thinned as it is read keeps what thinning the whole line would."""

    @pytest.mark.parametrize("seed", range(6))
    def test_true_min_and_max_of_every_column(self, seed):
        """Each pixel column keeps its true lowest and highest point, and the ends."""
        rnd = random.Random(seed)
        n = rnd.choice([3_000, 20_000, 100_000])
        low, span = 1_767_225_600 * 10**9, rnd.choice([n - 1, 10**9 + 7, 69 * 86_400 * 10**9])
        times = sorted(rnd.randint(low, low + span) for _ in range(n))
        values = [rnd.gauss(0, 1) * (50 if rnd.random() < 0.001 else 1) for _ in range(n)]
        line = Columns((low, low + span))
        for ts, value in zip(times, values, strict=True):
            line.add(ts, value)

        kept = line.points()

        assert len(line) == n
        assert len(kept) <= 2 * PLOT_COLUMNS + 2
        assert kept[0] == Point(ts_sim=times[0], value=values[0])
        assert kept[-1] == Point(ts_sim=times[-1], value=values[-1])

        def column(ts: int) -> int:  # the run's last moment is drawn in the last column
            return min(PLOT_COLUMNS - 1, (ts - low) * PLOT_COLUMNS // span)

        columns: dict[int, list[float]] = {}
        for ts, value in zip(times, values, strict=True):
            columns.setdefault(column(ts), []).append(value)
        by_column: dict[int, list[float]] = {}
        for point in kept:
            by_column.setdefault(column(point.ts_sim), []).append(point.value)
        for at, seen in columns.items():
            assert min(by_column[at]) == min(seen), at
            assert max(by_column[at]) == max(seen), at
        whole = [Point(ts_sim=t, value=v) for t, v in zip(times, values, strict=True)]
        assert kept == thin(whole, (low, low + span), PLOT_COLUMNS)

    def test_few_points_are_all_kept(self):
        """Up to two per column and two more, every point stays, in order."""
        line = Columns((0, 10))
        for i in range(2 * PLOT_COLUMNS + 2):
            line.add(i % 11, float(i))
        assert [p.value for p in line.points()] == [float(i) for i in range(2 * PLOT_COLUMNS + 2)]


def _crowded_run(run_dir: Path) -> tuple[Path, dict[str, int]]:
    """5,000 bars, 1,500 filled orders, broker rejects, rail blocks and operator events."""
    builder = RunBuilder()
    builder.start()
    builder.preflight()
    builder.move(Trigger.ACTIVATE)
    counts = {"reject": 0, "rail": 0, "operator": 0}
    for step in range(5000):
        builder.bar(f"{42000 + (step * 37) % 900 + (step // 700) * 50}.00")
        if step % 10 < 3:
            side = "BUY" if step % 20 < 10 else "SELL"
            builder.fill(builder.order(side, "0.001"), "0.001")
        if step % 13 == 0:
            builder.broker_reject(builder.order("BUY", "0.001"), "INSUFFICIENT_BALANCE")
            counts["reject"] += 1
        if step % 7 == 0:
            builder.risk_reject("max_notional", "BUY", "5.000")
            counts["rail"] += 1
        if step % 250 == 0:
            changed = {"to": "REDUCE_ONLY", "operator": "ops"}
            builder.copy("C2_TRADING_STATE", builder.event("TRADING_STATE_CHANGED", changed))
            counts["operator"] += 1
    builder.move(Trigger.REQUEST_STOP)
    builder.move(Trigger.STOPPED)
    builder.stop()
    return builder.write(run_dir), counts


class TestMarksSurviveThinning:
    """Dense submits and fills are grouped; no reject, rail block or operator event is lost."""

    def test_every_reject_rail_block_and_operator_event_keeps_a_mark(self, tmp_path):
        run, counts = _crowded_run(tmp_path / "r")
        document = render_report(run)

        assert _counted(document, "ORDER_REJECTED", "broker rejects") == counts["reject"]
        assert _counted(document, "RISK_REJECTED", "rail blocks") == counts["rail"]
        flags = re.findall(r'<g class="flag-operator"><title>([^<]*)</title>', document)
        charts = document.count("<polyline") - 1  # realised and unrealised share one chart
        assert len(flags) == counts["operator"] * charts
        # the crowd of submits and fills is grouped, and every one is still counted
        assert _counted(document, "ORDER_SUBMITTED", "submits") == 1500 + counts["reject"]
        assert _counted(document, "ORDER_FILLED", "fills") == 1500
        assert document.count("<circle") < 1500


class TestHonestWithoutFullVerify:
    """The default report checks the chain itself, and shows a break."""

    @pytest.mark.broken_run("it breaks the audit hash chain on purpose")
    def test_broken_chain_shows_as_broken(self, tmp_path):
        run = build_run(tmp_path / "r")
        audit = run / "audit.jsonl"
        lines = audit.read_bytes().split(b"\n")
        lines[1] = lines[1].replace(b'"seq":2', b'"seq":2 ', 1)  # same JSON, other bytes
        audit.write_bytes(b"\n".join(lines))

        text = html.unescape(re.sub(r"<[^>]+>", " ", render_report(run)))

        assert "Integrity checked" not in text
        assert "violation(s)" in text
        assert "audit.jsonl:3: prev_hash does not match the line before" in text

    @pytest.mark.broken_run("its line ends are converted, as git's core.autocrlf does")
    def test_windows_line_endings_are_said_as_verify_says_them_not_as_chain_breaks(self, tmp_path):
        """A reviewer's checkout with core.autocrlf=true: one problem per file, as verify.

        Before, the report listed ``audit.jsonl:2: prev_hash does not match the line
        before`` for every audit line (tampering, to a reader) and nothing of the line ends
        of events.jsonl or state_snapshots.jsonl, where verify names the \\r\\n once a file.
        """
        run = build_run(tmp_path / "r")
        for name, first in (("audit.jsonl", 1), ("events.jsonl", 10)):
            path = run / name
            lines = path.read_bytes().splitlines(keepends=True)
            converted = [line.replace(b"\n", b"\r\n") for line in lines[first - 1 :]]
            path.write_bytes(b"".join(lines[: first - 1] + converted))

        text = html.unescape(re.sub(r"<[^>]+>", " ", render_report(run)))

        said = [v for v in verify_run(run).violations if "ends with \\r\\n" in v]
        assert [v.split(":")[0] for v in said] == ["events.jsonl", "audit.jsonl"]
        assert said[0].startswith("events.jsonl:10: ends with \\r\\n, not \\n, as ")
        for violation in said:
            assert violation in text
        assert "prev_hash does not match" not in text

    @pytest.mark.parametrize("chunk", [1, 2, 3, 5, 7, 1 << 20])
    def test_line_ends_are_counted_across_chunks(self, tmp_path, monkeypatch, chunk):
        """The \\r of a \\r\\n at the end of one chunk, the \\n at the start of the next."""
        monkeypatch.setattr(_integrity, "_CHUNK", chunk)
        path = tmp_path / "f.jsonl"
        path.write_bytes(b'{"a":1}\n{"b":22}\n{"c":3}\r\n{}\n{"d":4}\r\n{"e":5}\r')
        reader = LineReader(path, None)
        assert [*reader] == [
            b'{"a":1}',
            b'{"b":22}',
            b'{"c":3}\r',
            b"{}",
            b'{"d":4}\r',
            b'{"e":5}\r',
        ]
        assert (reader.crlf, reader.crlf_first, reader.torn) == (2, 3, True)

    def test_a_long_line_is_cut_by_the_line_carry_chunk_by_chunk(self, tmp_path, monkeypatch):
        """Each chunk is handed once to ``LineCarry``, which joins a line's pieces once.

        Found on a hostile run: one line of 200 MB in ``events.jsonl`` took ``report`` 32 s
        (the line so far was joined to each chunk and split again: copying that grew with
        the square of the line). Speed is not timed here (bench/ measures it): every chunk
        goes through ``LineCarry`` (tests/test_linecarry.py holds its join-once rule), the
        long line comes out whole, and ``\r\n`` ends split over two chunks still count.
        """
        fed = carried_chunks(_integrity, monkeypatch)
        monkeypatch.setattr(_integrity, "_CHUNK", 64)
        path = tmp_path / "f.jsonl"
        path.write_bytes(b'{"a":1}\r\n' + b"A" * (64 << 10) + b"\r\n{}\n")
        reader = LineReader(path, None)

        read = [*reader]

        assert [len(line) for line in read] == [8, (64 << 10) + 1, 2]
        assert (reader.crlf, reader.crlf_first, reader.torn) == (2, 1, False)
        assert sum(fed) == path.stat().st_size
        assert max(fed) <= 64

    @pytest.mark.broken_run("its line ends are converted and a line is changed, on purpose")
    def test_a_break_the_line_ends_do_not_explain_is_still_listed(self, tmp_path):
        run = build_run(tmp_path / "r")
        audit = run / "audit.jsonl"
        lines = audit.read_bytes().replace(b"\n", b"\r\n").split(b"\n")
        lines[1] = lines[1].replace(b'"seq":2', b'"seq":2 ', 1)  # same JSON, other bytes
        audit.write_bytes(b"\n".join(lines))

        text = html.unescape(re.sub(r"<[^>]+>", " ", render_report(run)))

        assert "audit.jsonl:1: ends with \\r\\n, not \\n" in text
        assert "audit.jsonl:3: prev_hash does not match the line before" in text
        assert "audit.jsonl:2: prev_hash" not in text

    @pytest.mark.broken_run("it changes one event's bytes on purpose")
    def test_a_sealed_run_that_fails_its_checks_says_so_at_the_top(self, tmp_path):
        """Before, the header showed the green COMPLETED badge alone, and the violations were
        a section further down: a reviewer reading the top took the run for sound."""
        run = build_run(tmp_path / "r")
        clean = render_report(run)
        events = run / "events.jsonl"
        events.write_bytes(events.read_bytes().replace(b'"volume":"12.500"', b'"volume":"12.5"', 1))

        for document in (render_report(run), render_report(run, verify=True)):
            header = html.unescape(re.sub(r"<[^>]+>", " ", document.split("</header>")[0]))
            assert re.search(r"NOT VERIFIED +\d+ violation\(s\), listed under Verification", header)
        assert "NOT VERIFIED" not in clean
        audit = run / "audit.jsonl"  # a crashed run: its own badge, NOT SEALED, says it
        audit.write_bytes(b"".join(audit.read_bytes().splitlines(keepends=True)[:-1]))
        (run / "checkpoint.json").unlink(missing_ok=True)
        crashed = render_report(run).split("</header>")[0]
        assert "NOT SEALED" in crashed
        assert "NOT VERIFIED" not in crashed

    @pytest.mark.broken_run("it changes one event's bytes on purpose")
    def test_changed_event_bytes_break_the_digest(self, tmp_path):
        run = build_run(tmp_path / "r")
        events = run / "events.jsonl"
        events.write_bytes(events.read_bytes().replace(b'"volume":"12.500"', b'"volume":"12.5"', 1))

        text = html.unescape(re.sub(r"<[^>]+>", " ", render_report(run)))

        assert "events.jsonl: SHA-256 differs from the digest the audit chain closed with" in text

    @pytest.mark.broken_run("it cuts a run short on purpose")
    def test_missing_stop_record_is_incomplete(self, tmp_path):
        run = build_run(tmp_path / "r")
        audit = run / "audit.jsonl"
        audit.write_bytes(b"".join(audit.read_bytes().splitlines(keepends=True)[:-1]))

        text = html.unescape(re.sub(r"<[^>]+>", " ", render_report(run)))

        assert "no closing C2_DRYRUN_STOP record (incomplete run)" in text


def _report_cli(run: Path, out: Path, *, tty: bool) -> tuple[int, bytes]:
    """Run ``livesession report`` with stderr on a pseudo-terminal or a pipe."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "TERM": "xterm"}
    env["COLUMNS"] = "100"
    command = [sys.executable, "-m", "livesession.cli", "report", str(run), "--output", str(out)]
    if not tty:
        done = subprocess.run(command, capture_output=True, env=env, timeout=120, check=False)
        return done.returncode, done.stderr
    import pty

    parent, child = pty.openpty()
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=child, env=env) as process:
        os.close(child)
        seen = b""
        while True:
            try:
                chunk = os.read(parent, 4096)
            except OSError:  # the child closed its end
                break
            if not chunk:
                break
            seen += chunk
        code = process.wait(timeout=120)
    os.close(parent)
    return code, seen


@pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal is POSIX")
class TestProgress:
    """A progress bar on a terminal's stderr, and nothing on a pipe."""

    def test_bar_on_a_terminal(self, tmp_path):
        run = build_run(tmp_path / "r")
        code, seen = _report_cli(run, tmp_path / "a.html", tty=True)
        assert code == 0
        assert b"report: reading events.jsonl" in seen

    def test_nothing_on_a_pipe(self, tmp_path):
        run = build_run(tmp_path / "r")
        code, seen = _report_cli(run, tmp_path / "b.html", tty=False)
        assert code == 0
        assert seen == b""
        assert (tmp_path / "a.html").exists() is False
        assert (tmp_path / "b.html").read_bytes() == render_report(run).encode()
