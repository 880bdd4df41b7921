"""Rewrite the PINNED tables from ``NEW-PIN`` lines on standard input (see ``_pins.py``).

Only runs named in those lines change; every other pin stays as it is. Review the diff:
a pin that moved without a reason is a bug, not a re-pin.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

FILES = ("test_pinned_bytes.py", "test_pinned_paths.py")


def main() -> int:
    new: dict[str, dict[str, str]] = {}
    for line in sys.stdin:
        if line.startswith("NEW-PIN "):
            _, run_id, digests = line.rstrip("\n").split(" ", 2)
            new[run_id] = json.loads(digests)
    here = Path(__file__).parent
    done: set[str] = set()
    for name in FILES:
        path = here / name
        text = path.read_text(encoding="utf-8")
        for run_id, digests in new.items():
            for artifact, digest in digests.items():
                pattern = re.compile(
                    rf'(\n    "{re.escape(run_id)}": \{{(?:\n        "[^"]+": "[0-9a-f]{{64}}",)*?'
                    rf'\n        "{re.escape(artifact)}": ")[0-9a-f]{{64}}(")'
                )
                text, count = pattern.subn(rf"\g<1>{digest}\g<2>", text)
                if count:
                    done.add(run_id)
        path.write_text(text, encoding="utf-8")
    missing = sorted(set(new) - done)
    for run_id in missing:
        sys.stderr.write(f"repin: no PINNED entry for {run_id}\n")
    sys.stdout.write(f"repin: {len(done)} run(s) re-pinned: {', '.join(sorted(done))}\n")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
