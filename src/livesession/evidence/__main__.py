"""``python -m livesession.evidence RUN_DIR SCRATCH``: the determinism re-run's process.

Started by ``write_evidence`` (see ``_rerun``); not a command for people.
"""

from __future__ import annotations

import sys

from ._rerun import main

if __name__ == "__main__":
    sys.exit(main())
