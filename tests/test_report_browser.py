"""Render the HTML report in headless Chromium: it must draw and log no page errors."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from livesession.report import write_report
from test_report import SECTIONS

from _reviewrun import build_review_run
from _runfactory import build_run

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Chromium logs page console output as `[...:INFO:CONSOLE:1] "message", source: ...` (older
# builds: `CONSOLE(1)`); the canary test below checks this still matches.
PAGE_ERROR = re.compile(r":CONSOLE[:(]\d+|Uncaught|Refused to|net::ERR_", re.IGNORECASE)
HOSTILE = "<script>alert('x')</script>"

pytestmark = pytest.mark.browser


@pytest.fixture(name="chromium")
def _chromium():
    path = shutil.which("chromium")
    if path is None:
        if os.environ.get("LIVESESSION_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium is not on PATH but LIVESESSION_REQUIRE_BROWSER=1")
        pytest.skip("chromium is not on PATH (run .ci/setup_chromium.sh to install it)")
    return path


@pytest.fixture(name="report")
def _report(tmp_path):
    run = build_run(tmp_path / "run", scenario="fault", strategy_id=HOSTILE)
    target = tmp_path / "report.html"
    write_report(run, target)
    return target


@pytest.fixture(name="review_report")
def _review_report(tmp_path):
    """The report of a real run with rails firing, a crash and resume, and a kill."""
    target = tmp_path / "review.html"
    write_report(build_review_run(tmp_path / "out"), target)
    return target


def chromium_args(chromium: str, profile) -> list[str]:
    return [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1200,1600",
    ]


def page_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if PAGE_ERROR.search(line)]


class TestReportInChromium:
    """Headless Chromium renders the report offline, without page errors."""

    def test_screenshot(self, chromium, report, tmp_path):
        """A screenshot is a non-empty PNG and the page logs no console or load errors."""
        png = tmp_path / "report.png"

        result = subprocess.run(
            [
                *chromium_args(chromium, tmp_path / "profile"),
                f"--screenshot={png}",
                report.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

        assert result.returncode == 0, result.stderr[-2000:]
        data = png.read_bytes()
        assert data.startswith(PNG_SIGNATURE)
        assert len(data) > 10_000
        assert page_errors(result.stderr) == []

    def test_canary_page_errors_are_seen(self, chromium, tmp_path):
        """The error scan is not vacuous: a page with a console error and a throw is caught."""
        bad = tmp_path / "bad.html"
        bad.write_text(
            '<!DOCTYPE html><p>x</p><script>console.error("boom"); missing();</script>',
            encoding="utf-8",
        )

        result = subprocess.run(
            [*chromium_args(chromium, tmp_path / "profile"), "--dump-dom", bad.as_uri()],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

        errors = page_errors(result.stderr)
        assert any("boom" in line for line in errors), result.stderr[-2000:]
        assert any("Uncaught" in line for line in errors), result.stderr[-2000:]

    def test_dump_dom(self, chromium, report, tmp_path):
        """The DOM Chromium built holds the charts and the escaped hostile id, and no script."""
        result = subprocess.run(
            [*chromium_args(chromium, tmp_path / "profile"), "--dump-dom", report.as_uri()],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

        assert result.returncode == 0, result.stderr[-2000:]
        dom = result.stdout
        # state timeline, price, position, equity, drawdown, PnL
        assert dom.count("<svg") == 6
        assert "run-test-1" in dom
        assert "&lt;script&gt;alert('x')&lt;/script&gt;" in dom
        assert "<script" not in dom
        assert page_errors(result.stderr) == []

    def test_review_run(self, chromium, review_report, tmp_path):
        """A real run's report: every section drawn, every kind of mark, no page error."""
        png = tmp_path / "review.png"
        shot = subprocess.run(
            [
                *chromium_args(chromium, tmp_path / "profile"),
                f"--screenshot={png}",
                review_report.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        dumped = subprocess.run(
            [*chromium_args(chromium, tmp_path / "profile2"), "--dump-dom", review_report.as_uri()],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

        assert shot.returncode == 0, shot.stderr[-2000:]
        assert png.read_bytes().startswith(PNG_SIGNATURE)
        assert page_errors(shot.stderr) == []
        assert dumped.returncode == 0, dumped.stderr[-2000:]
        assert page_errors(dumped.stderr) == []
        dom = dumped.stdout
        assert [title for title in SECTIONS if f"<h2>{title}</h2>" not in dom] == []
        for mark in ('class="rail"', 'class="flag-kill"', 'class="flag-resume"', "<circle"):
            assert mark in dom, mark
        assert "<script" not in dom
