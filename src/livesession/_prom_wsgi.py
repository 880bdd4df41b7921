"""The exporter's answer when a run cannot be read: one line and a 503, never a traceback.

``prometheus_client``'s WSGI app lets what a collector raises through, and a WSGI server
turns it into ``500 Internal Server Error`` with a generic page, and the traceback in its
own log: a scrape of a run whose ``events.jsonl`` a person replaced with a FIFO, or that
this user may not read, told the SRE nothing. The app ``guarded`` returns instead answers
``503 Service Unavailable`` with one plain-text line naming the file and the error (what
``livesession prom`` says of it): the scrape fails (Prometheus's ``up`` is 0, its target
page shows the line) and no series goes to 0, as a counter read from nothing would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from ._support.logging import get_logger
from ._support.oserrors import said
from ._support.secrets import redact_text
from ._support.text import one_line

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

__all__ = ["UNREADABLE_STATUS", "guarded"]

UNREADABLE_STATUS: Final = "503 Service Unavailable"


def guarded(
    app: Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]],
    where: str,
    run_id: str | None,
) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    """``app``, answering ``503`` with one line when the file system refuses a scrape.

    ``where`` names what is served (``the run DIR``, ``the registry's run``) in the line;
    ``run_id`` (the run directory's name, None for a registry) goes in the log line.
    """

    def served(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            return app(environ, start_response)
        except OSError as exc:
            line = unreadable_line(exc, where)
            get_logger().warning("prom_scrape_failed", run_id=run_id, error=line)
            body = f"livesession: {line}\n".encode()
            headers = [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(body))),
            ]
            start_response(UNREADABLE_STATUS, headers)
            return [body]

    return served


def unreadable_line(exc: OSError, where: str) -> str:
    """``cannot read the run DIR: DIR/events.jsonl: Permission denied`` on one line."""
    named = exc.filename2 or exc.filename
    file = f"{named}: " if named else ""
    return one_line(redact_text(f"cannot read {where}: {file}{said(exc)}"))
