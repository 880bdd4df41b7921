"""What a torn session says: its refusals, ``result().torn`` and its session log's record.

A session is torn when an interrupt or an error it could not handle left its work half
done (``threads.SessionGate.tear``); it then takes no step or verb, and lets go of its run
at once (``closing.let_go``). Each of its answers says so in the same words: the commands
to paste name its run directory where the session knows it (``resumes_in``: a session
``create_run`` or ``resume_run`` made), and say ``RUN_DIR`` for one on the application's
own sinks.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .._exceptions import LiveSessionError
from .._support.logging import get_logger
from .._support.text import command
from .outcomes import VerbOutcome, VerbResult

if TYPE_CHECKING:
    from .._domain.lifecycle import SessionState
    from .coordinator import LiveSessionOrchestrator

__all__ = ["TornWords", "resumes_in"]


def resumes_in(session: LiveSessionOrchestrator, run_dir: str | os.PathLike[str]) -> None:
    """Have ``session``'s torn words name ``run_dir``, the run directory it writes."""
    session._gate.run_dir = os.fspath(run_dir)  # noqa: SLF001 - the run directory's session


class TornWords:
    """The words of a torn session, for ``SessionGate`` (which sets ``torn_by``)."""

    torn_by: str
    """The name of what tore the session ("" while it is whole)."""
    torn_error: str
    """What tore it said, in one redacted line ("" for an interrupt)."""
    run_dir = ""
    """The run directory its commands name (``resumes_in``); "" on the application's sinks."""

    def torn_message(self, what: str, run_id: str, steps: int) -> str:
        """Why ``what`` is refused on a torn session, and what to do instead."""
        return f"{what} refused: session {run_id} was {self.torn_said(steps)}"

    def torn_said(self, steps: int) -> str:
        """What a torn session is, and what to do ("" while it is whole): ``result().torn``."""
        if not self.torn_by:
            return ""
        resume, status = map(self._command, ("resume", "status"))
        return (
            f"interrupted by {self.torn_by} in the middle of its work (after step {steps}), "
            "so what it held was half done: it let go of its run, unsealed, and writes "
            f"nothing more; resume the run from its last checkpoint (`{resume}`, or "
            f"resume_run from Python: `{status}` says which)"
        )

    def _command(self, verb: str) -> str:
        """``livesession resume '/runs/x y'`` to paste (``RUN_DIR`` where none is known)."""
        return command(verb, self.run_dir) if self.run_dir else f"livesession {verb} RUN_DIR"

    def refuse_torn(self, what: str, run_id: str, steps: int) -> None:
        """Raise ``LiveSessionError`` if an interrupt tore the session."""
        if self.torn_by:
            raise LiveSessionError(self.torn_message(what, run_id, steps))

    def torn_result(
        self, verb: str, state: SessionState, run_id: str, steps: int
    ) -> VerbResult | None:
        """A verb's NOT_APPLICABLE on a torn session (None: the session is whole)."""
        if not self.torn_by:
            return None
        message = self.torn_message(verb, run_id, steps)
        return VerbResult(
            verb=verb, outcome=VerbOutcome.NOT_APPLICABLE, state=state, message=message
        )

    def log_torn(self, run_id: str, steps: int) -> None:
        """The session log's record of a torn session closed without a seal."""
        get_logger().warning(
            "session_interrupted",
            run_id=run_id,
            interrupted_by=self.torn_by,
            **({"error": self.torn_error} if self.torn_error else {}),  # none for an interrupt
            steps=steps,
            next="not sealed: resume the run from its last checkpoint",
        )
