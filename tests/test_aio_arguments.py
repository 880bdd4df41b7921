"""An ``AsyncSession`` call given a bad argument says so in the name the caller used."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from livesession import (
    AsyncSession,
    ConfigError,
    DryrunConfig,
    LiveSessionError,
    VerbOutcome,
    open_session,
)
from livesession.verify import verify_run

if TYPE_CHECKING:
    from pathlib import Path


def test_a_bad_argument_names_the_async_call_and_is_not_kept_as_a_call(tmp_path: Path) -> None:
    """Bug: ``await session.run_steps(0)`` raised ``run_n_steps needs a positive integer``
    and ``await session.stop(None)`` ``request_stop(reason=...) needs a str``: the methods
    of the sync session behind it, which the caller never called. And the refused call
    was kept as a ``stop`` call: ``verb_results("stop")`` raised its ``ConfigError`` for
    the rest of the session (and after it), though it changed nothing."""

    async def refused(session: AsyncSession) -> None:
        with pytest.raises(ConfigError, match=r"^run_steps needs a positive integer, got 0$"):
            await session.run_steps(0)
        with pytest.raises(ConfigError, match=r"^stop\(reason=\.\.\.\) needs a str, got NoneType"):
            await session.stop(None)  # type: ignore[arg-type]
        with pytest.raises(ConfigError, match=r"^acknowledge\(operator=\.\.\.\) needs a str"):
            await session.acknowledge(5)  # type: ignore[arg-type]

    async def main() -> None:
        cfg = DryrunConfig(run_id="aio-args", steps=100)
        async with open_session(cfg, out_dir=tmp_path) as session:
            await refused(session)
            assert await session.run_steps(10) == 10
            assert (await session.stop("done")).outcome is VerbOutcome.APPLIED
            assert [r.outcome for r in await session.verb_results("stop")] == [VerbOutcome.APPLIED]
        await refused(session)  # after the block, as in it
        assert len(await session.verb_results("stop")) == 1

    asyncio.run(main())
    assert verify_run(tmp_path / "aio-args").ok


def test_one_open_session_entered_twice_is_refused_in_one_line(tmp_path: Path) -> None:
    """Bug: ``async with`` of one ``open_session(...)`` a second time (inside its block, or
    after it: an application keeping the call's result to open its session again) raised
    ``AttributeError: '_AsyncGeneratorContextManager' object has no attribute 'args'``,
    naming contextlib's internals. It raises ``LiveSessionError`` saying what to do now,
    and the session of the first block goes on, its run sealed when that block ends."""
    again = (
        r"^this open_session\(\.\.\.\) was entered already: each call opens one session, for "
        r"one async with block, and that block's end closes it; call open_session\(\.\.\.\) "
        r"again for another block \(nothing was changed\)$"
    )

    async def main() -> None:
        opening = open_session(DryrunConfig(run_id="aio-once", steps=100), out_dir=tmp_path)
        async with opening as session:
            with pytest.raises(LiveSessionError, match=again):
                async with opening:
                    pass
            assert await session.run_steps(10) == 10
        with pytest.raises(LiveSessionError, match=again):
            async with opening:
                pass
        assert (session.state.value, session.steps_done) == ("STOPPED", 10)

    asyncio.run(main())
    assert verify_run(tmp_path / "aio-once").ok


def test_a_plain_with_of_open_session_says_async_with_and_builds_nothing(tmp_path: Path) -> None:
    """Bug: `with open_session(...)` in a notebook (for `async with`) raised `TypeError:
    'OpenOnce' object does not support the context manager protocol`, naming a private
    class and not the fix, and the displayed object was `<livesession._aio_once.OpenOnce
    object at 0x...>`. It says to use `async with` (or create_run), and builds nothing."""
    block = open_session(DryrunConfig(run_id="plain", steps=10), out_dir=tmp_path)
    assert repr(block) == "open_session(...) (not entered yet)"
    said = r"^open_session\(\.\.\.\) is an async context manager: use `async with"
    with pytest.raises(TypeError, match=said), block:
        pass
    assert list(tmp_path.iterdir()) == []

    async def entered() -> str:
        async with block:
            return repr(block)

    assert asyncio.run(entered()) == "open_session(...) (entered)"
    assert verify_run(tmp_path / "plain").ok
