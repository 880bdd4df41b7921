"""A FastAPI service that runs one dry-run session for its whole life.

The session starts with the app (lifespan) in a run directory under ``LIVESESSION_APP_OUT``
(default ``./runs``), named ``LIVESESSION_APP_RUN_ID`` (default ``fastapi-demo``), and is
stepped in the background on its own thread (``livesession.open_session``). ``GET /status``
reports it; ``POST /stop`` stops it gracefully (cancel, flatten, STOPPED). Shutting the
server down (Ctrl-C, SIGTERM) stops it the same way if it is still running and seals the
run, so ``livesession verify`` accepts the directory afterwards.

Run it with::

    pip install fastapi uvicorn
    LIVESESSION_APP_OUT=/tmp/runs uvicorn fastapi_app:app --app-dir examples

It needs FastAPI and uvicorn, which livesession does not depend on.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request

from livesession import AsyncSession, DryrunConfig, SessionState, open_session

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

STEPS_PER_TICK = 10
"""Steps run in one go on the session's thread before the loop yields a tick."""
TICK_S = 0.01
"""Pause between ticks: a demo, so the session does not race through its steps."""


async def _keep_stepping(session: AsyncSession, steps: int) -> None:
    """Step in small batches until ``steps`` are done or the session stops."""
    while session.state is SessionState.DRYRUN_ACTIVE and session.steps_done < steps:
        await session.run_steps(min(STEPS_PER_TICK, steps - session.steps_done))
        await asyncio.sleep(TICK_S)


def create_app(out_dir: Path, run_id: str, *, steps: int = 100_000) -> FastAPI:
    """The app: one session in ``out_dir/run_id``, stepped until ``steps`` or a stop."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        config = DryrunConfig(run_id=run_id, steps=steps)
        async with open_session(config, out_dir=out_dir) as session:
            app.state.session = session
            stepping = asyncio.create_task(_keep_stepping(session, steps))
            try:
                yield
            finally:
                # Cancelling the task stops the session gracefully if it was in run_steps
                # ("task cancelled"); if it was between batches, the stop below does
                # (the one that comes second says ALREADY). Leaving open_session seals.
                stepping.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await stepping
                await session.stop("server shutdown")

    app = FastAPI(title="livesession demo", lifespan=lifespan)

    @app.get("/status")
    async def status(request: Request) -> dict[str, Any]:
        session: AsyncSession = request.app.state.session
        book = await session.book()
        return {
            "run_id": session.run_id,
            "run_dir": str(session.run_dir),
            "state": session.state.value,
            "status": session.status.value,
            "trading_state": session.trading_state.value,
            "steps": session.steps_done,
            "equity": str(book.equity),
            "open_orders": len(book.open_orders),
        }

    @app.post("/stop")
    async def stop(request: Request) -> dict[str, Any]:
        session: AsyncSession = request.app.state.session
        result = await session.stop("POST /stop")
        return {
            "outcome": result.outcome.value,
            "message": result.message,
            "state": result.state.value,
        }

    return app


app = create_app(
    Path(os.environ.get("LIVESESSION_APP_OUT", "runs")),
    os.environ.get("LIVESESSION_APP_RUN_ID", "fastapi-demo"),
)
