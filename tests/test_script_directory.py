"""A reference to a module beside the application's script, started from that directory.

The rule is: never the current directory *by accident* (``''`` of ``python -c``, the
current directory ``python -m`` puts first, ``PYTHONPATH=.``). The script's own directory,
which Python puts first on ``sys.path`` for ``python app.py``, is the application's, and
stays whether or not it is the current directory.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

APP = """
from livesession import DryrunConfig, LiveSessionOrchestrator, MemoryLineSink, PluginError

settings = {
    "run_id": "beside",
    "steps": 20,
    "strategy_factory": "mydesk.breakout:make_strategy",
    "strategy_params": {"lookback": 5},
}
try:
    session = LiveSessionOrchestrator(
        DryrunConfig.from_mapping(settings), audit_sink=MemoryLineSink()
    )
except PluginError as exc:
    print("refused:", exc)
else:
    print("ran:", session.run_to_end(20).status.value)
"""


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """``app/app.py`` with the ``mydesk`` package beside it; ``elsewhere/`` beside ``app/``."""
    where = tmp_path / "app"
    shutil.copytree(EXAMPLES / "mydesk", where / "mydesk")
    (where / "app.py").write_text(APP, encoding="utf-8")
    (tmp_path / "elsewhere").mkdir()
    return where


def _run(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_module_beside_the_script_imports_from_the_script_s_directory(app: Path) -> None:
    """Bug: it imported when the application was started from another directory, and was
    refused (``mydesk is in the current directory, which is never searched``) when started
    from its own, where ``sys.path[0]``, the script's directory, is the current one."""
    assert _run(str(app / "app.py"), cwd=app.parent / "elsewhere") == "ran: COMPLETED"
    assert _run("app.py", cwd=app) == "ran: COMPLETED"


def test_the_current_directory_python_m_puts_first_is_still_never_searched(app: Path) -> None:
    said = _run("-m", "app", cwd=app)
    assert said.startswith("refused: strategy_factory: cannot import"), said
    assert "mydesk is in the current directory, which is never searched" in said
    said = _run("-c", APP, cwd=app)
    assert "mydesk is in the current directory, which is never searched" in said
