"""docs/operations.md's "A batch of runs", run as written on a small generated batch.

The page tells a desk how to run hundreds of generated configs with ``xargs -P2`` and keep
what each did beside it; the commands are run here on three configs (one refused, one
rejected by preflight, one clean) and the page's words about each checked.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _section() -> str:
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    return text.split("\n### A batch of runs\n", 1)[1].split("\n### ", 1)[0]


def test_the_batch_commands_run_as_written(tmp_path: Path) -> None:
    (block,) = re.findall(r"```bash\n(.*?)```", _section(), flags=re.DOTALL)
    lines = block.splitlines()
    (keep,) = [line for line in lines if "--json >" in line]
    (check,) = [line for line in lines if line.startswith("rc=0; for run in out/*/")]
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "c000.toml").write_text('run_id = "b-000"\nsteps = 20\n', encoding="utf-8")
    (cfg / "c001.toml").write_text('run_id = "b-001"\nenabled = true\n', encoding="utf-8")
    (cfg / "c002.toml").write_text('run_id = "b-002"\n[risk]\nmax_ordr_qty = "1"\n')
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}

    def sh(line: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["sh", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
        )

    ran = sh(keep)
    assert ran.returncode == 123, ran.stderr  # xargs: one or more did not exit 0
    said = {p.name: json.loads(p.read_text()) for p in sorted(cfg.glob("*.json"))}
    assert [(d["exit_code"], d.get("run_id"), d.get("status")) for d in said.values()] == [
        (0, "b-000", "COMPLETED"),
        (3, "b-001", "REJECTED"),
        (2, None, None),
    ]
    assert said["c002.toml.json"]["error"].startswith(
        "config file cfg/c002.toml, line 3: unknown config key risk.max_ordr_qty"
    )
    ran = sh(check)  # both runs are clean, the rejected one too: sealed as it should be
    assert (ran.returncode, ran.stdout) == (0, ""), ran.stderr
