"""The ``livesession`` command's entry point (also ``python -m livesession``).

Loading the CLI imports most of the package (a few tenths of a second). A Ctrl-C in that
time raised ``KeyboardInterrupt`` inside an import, before ``cli.main`` could catch it, and
printed a traceback of some fifty lines. This module imports nothing of the package's
until the CLI, inside the ``try``: a Ctrl-C then is the one line and 130 that ``cli.main``
gives once it runs. SIGTERM needs nothing here: until ``cli.main`` installs its handler the
signal's default action ends the process quietly (a shell shows 143).
"""

from __future__ import annotations

import signal
import sys

__all__ = ["main"]


def main() -> int:
    """Load the CLI and run it; a Ctrl-C while it loads ends it as one during a command."""
    try:
        from .cli import main as cli_main  # noqa: PLC0415 - the import is what is guarded
    except KeyboardInterrupt:
        print("livesession: interrupted", file=sys.stderr)  # noqa: T201 - the CLI's output
        return 128 + int(signal.SIGINT)
    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
