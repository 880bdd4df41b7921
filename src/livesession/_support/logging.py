"""Structured logging: JSON lines, redacted, tracebacks without locals.

The library is silent until an application (or the CLI) calls ``configure_logging``;
structlog is imported only then, so ``import livesession`` stays light.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import warnings
from collections.abc import Iterator, MutableMapping
from typing import Any, Final, Protocol, TextIO, cast

from .._exceptions import INTERRUPTS
from .secrets import redact, redact_text

__all__ = [
    "LOG_STATE",
    "configure_logging",
    "disable_logging",
    "get_logger",
    "import_structlog_without_rich",
    "logs_debug",
    "logs_on",
    "plugin_records_redacted",
    "redact_processor",
]


class _Writable(Protocol):
    """What ``configure_logging`` writes to: anything with a ``write(str)`` (``flush`` optional)."""

    def write(self, text: str, /) -> object:
        """Take one whole line, its newline included."""


class _NullLogger:
    """Swallows everything (the default until ``configure_logging``)."""

    def _drop(self, *_args: object, **_kwargs: object) -> None:
        """Drop the message."""

    debug = info = warning = error = critical = exception = _drop


def redact_processor(
    _logger: object, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Replace secret-looking values (keys like ``api_key``, ``password``, ``dsn``)."""
    cleaned: MutableMapping[str, Any] = redact(dict(event_dict))
    if "event" in event_dict:
        cleaned["event"] = redact(event_dict["event"])
    return cleaned


class _LogState:
    """The logger in use, and whether it wants debug lines (both set by ``configure_logging``)."""

    __slots__ = ("debug", "logger")

    def __init__(self) -> None:
        self.logger: Any = _NullLogger()
        self.debug = False


LOG_STATE: Final = _LogState()
"""Read ``LOG_STATE.debug`` where ``logs_debug()`` would be a call too many (every event)."""


def import_structlog_without_rich() -> None:
    """Import structlog with rich hidden from it: for a process of livesession's own (the CLI).

    structlog's console renderer and its tracebacks' locals use rich when it is installed,
    and ``import structlog`` imports it for them: 30 to 60 ms of each command's start-up.
    The session log is JSON with tracebacks without locals, so it uses neither. Hiding rich
    only while structlog is imported leaves it importable afterwards (the progress bars).
    Does nothing once either is imported; an application embedding livesession keeps its
    own structlog as it is.
    """
    if "structlog" in sys.modules or "rich" in sys.modules:
        return
    sys.modules["rich"] = None  # type: ignore[assignment] # an import of it now fails
    try:
        import structlog  # noqa: F401, PLC0415
    finally:
        del sys.modules["rich"]


_LEVELS: Final = {
    "NOTSET": logging.NOTSET,
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "CRITICAL": logging.CRITICAL,
}
"""The levels the log filters by, by name (``logging``'s own)."""


def _level(level: object) -> int:
    """``level`` as one of ``logging``'s levels: the number (``logging.INFO``) or its name."""
    if isinstance(level, str) and level.strip().upper() in _LEVELS:
        return _LEVELS[level.strip().upper()]
    if isinstance(level, int) and not isinstance(level, bool) and level in _LEVELS.values():
        return level
    raise ValueError(
        "configure_logging: level must be one of logging's levels, logging.DEBUG, INFO, "
        f"WARNING, ERROR or CRITICAL (the number or its name, 'INFO'), got {level!r}"
    )


def configure_logging(stream: _Writable | None = None, *, level: int | str = logging.INFO) -> None:
    """Send livesession's logs as JSON lines to ``stream`` (stderr by default).

    ``stream`` needs a ``write(str)``, which gets each line whole, its newline included, in
    one call; a ``flush()`` is called when it has one. Whatever
    either raises loses that line and never reaches a session (it goes on). A stream
    without ``write`` is a ``TypeError`` here, not at the first line a session logs.
    ``level`` is one of ``logging``'s (``logging.DEBUG``, or ``"DEBUG"``); any other value
    is a ``ValueError`` naming them.
    """
    minimum = _level(level)
    target = sys.stderr if stream is None else stream
    if not callable(getattr(target, "write", None)):
        raise TypeError(
            "configure_logging: stream must have a write(str) method (sys.stderr, an open "
            f"text file, io.StringIO, or a bridge of your own), got {type(target).__name__}"
        )
    import structlog  # noqa: PLC0415 - loaded only when logging is wanted

    LOG_STATE.logger = structlog.wrap_logger(
        # One write per line, the newline with it: print() (PrintLogger) wrote the record
        # and its newline apart, and a line the application wrote to the same stream in
        # between (its own logging, another thread) joined the record's line.
        structlog.WriteLogger(cast("TextIO", _Unfailing(target))),
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            ),
            redact_processor,  # after the exception is rendered: its message is redacted too
            structlog.processors.JSONRenderer(sort_keys=True),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(minimum),
    )
    LOG_STATE.debug = minimum <= logging.DEBUG


class _Unfailing:
    """The log's stream, which a write or flush that fails never stops.

    The log is for people; the run's record is its artifacts, whose sinks fail closed. A log
    line that raised would stop a session in the middle of a step (or a verb: a kill) for a
    line it can lose, and leave the run unsealed. So whatever the stream raises is counted
    and dropped: the system refusing it (a full disk, a closed file), and an application's
    own bridge into its logging refusing it (its queue full). A stream without ``flush``
    (such a bridge) is not flushed.
    """

    def __init__(self, stream: _Writable) -> None:
        self._stream = stream
        self.dropped = 0
        """Lines (or flushes) refused so far."""

    def write(self, text: str) -> int:
        try:
            self._stream.write(text)
        except INTERRUPTS:
            raise
        except BaseException:  # noqa: BLE001 - a closed stream's ValueError, a bridge's own error
            self.dropped += 1
        return len(text)

    def flush(self) -> None:
        flush = getattr(self._stream, "flush", None)
        if not callable(flush):
            return
        try:
            flush()
        except INTERRUPTS:
            raise
        except BaseException:  # noqa: BLE001 - as in write
            self.dropped += 1


def disable_logging() -> None:
    """Go back to the silent default (for example before closing the log stream)."""
    LOG_STATE.logger = _NullLogger()
    LOG_STATE.debug = False


def logs_on() -> bool:
    """Whether a log is configured (``configure_logging``): lines logged now are written."""
    return not isinstance(LOG_STATE.logger, _NullLogger)


def logs_debug() -> bool:
    """Whether debug lines are wanted: routine per-step records are logged only then."""
    return LOG_STATE.debug


def get_logger() -> Any:
    """The current livesession logger (a no-op until configured)."""
    return LOG_STATE.logger


@contextlib.contextmanager
def plugin_records_redacted() -> Iterator[None]:
    """Each stdlib ``logging`` record made meanwhile is redacted as it is made (``redact_text``).

    For a process of livesession's own (the CLI, the evidence's re-run), whose plug-ins log
    with ``logging`` as they please: ``log.warning("key %s", os.environ["..._SECRET"])``
    reached stderr through Python's last-resort handler (or the one ``logging.error()``
    makes) with the value in it. The record's message is taken whole (its arguments put in)
    and redacted, and so is its traceback, for whatever handler shows it. So is a warning's
    text (``warnings.warn(f"... {key}")``), as ``warnings`` prints it or hands it to
    ``logging``. An application embedding livesession keeps its own logging and warnings as
    they are: this is never used there.
    """
    made = logging.getLogRecordFactory()
    formatted = warnings.formatwarning

    def redacted(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = made(*args, **kwargs)
        _redact_record(record)
        return record

    def redacted_warning(*args: Any, **kwargs: Any) -> str:
        return redact_text(formatted(*args, **kwargs))

    logging.setLogRecordFactory(redacted)
    warnings.formatwarning = redacted_warning
    try:
        yield
    finally:
        if logging.getLogRecordFactory() is redacted:  # a plug-in's own factory stays
            logging.setLogRecordFactory(made)
        if warnings.formatwarning is redacted_warning:
            warnings.formatwarning = formatted


def _redact_record(record: logging.LogRecord) -> None:
    """``record``'s message, traceback and stack redacted, its arguments put in first.

    Arguments that do not fit the message are said so, never printed: logging's own error
    report quotes them (``Arguments: (...)``), a secret among them.
    """
    try:
        message = record.getMessage()
    except INTERRUPTS:
        raise
    except BaseException as exc:  # noqa: BLE001 - a plug-in's record: said, never raised
        message = (
            f"(a log record of {record.name} at {record.pathname}:{record.lineno} whose "
            f"arguments did not fit its message: {type(exc).__name__})"
        )
    record.msg, record.args = redact_text(message), ()
    if record.exc_info and record.exc_info[0] is not None:
        record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
        record.exc_info = None  # the text stands for it: no handler formats the raw one
    if record.stack_info:
        record.stack_info = redact_text(record.stack_info)
