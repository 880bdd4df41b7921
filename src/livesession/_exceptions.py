"""The exceptions livesession raises.

Every error a person can cause is a ``LiveSessionError`` whose message is one line that
says what is wrong and how to fix it. Messages never contain a secret.

::

    LiveSessionError
    ├── ConfigError                 bad configuration or environment
    │   ├── UsageError              a command-line argument is wrong
    │   ├── DataFileError           a data file (a CSV feed's) fails its check
    │   ├── PluginError             a plug-in reference that cannot be used, or changed code
    │   └── UnrecordablePath        a path this process cannot record in a run, or name
    ├── InvalidTransition           a trigger that is illegal in the current state
    ├── RunDirectoryError           a run directory that is missing, foreign or corrupt
    │   ├── AuditCorruption         a bad audit line in the middle of the chain
    │   ├── LeaseHeld               another live session holds the lease; nothing changed
    │   ├── RunExists               create_run: the run id's directory is there already
    │   ├── RunHeld                 another process is writing this run directory now
    │   └── SealCheckpointWritten   resume: a sealed run's missing sealing checkpoint written
    ├── CheckpointError             a checkpoint that cannot be read or written
    │   └── PluginStateError        a feed's or strategy's get_state failed or is not JSON
    ├── IdempotencyConflict         a key reserved again with different order parameters
    ├── SinkFailure                 an artifact sink failed after its retries (fail closed)
    ├── StoreFailure                an idempotency store or a venue journal refused a write
    ├── MissingExtra                an optional dependency is not installed
    ├── LeaseError                  the lease store cannot be read or written
    │   └── Fenced                  a shared-state write refused: a newer lease holder exists
    ├── PostgresError               the PostgreSQL server failed (no secret inside)
    └── BrokerError                 a broker call failed (see the taxonomy below)
        ├── Transient               never reached the venue: resend the same id after backoff
        ├── OutcomeUnknown          may have been applied: look up by client id first
        └── Rejected                final: the venue refused the request
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from pathlib import Path

__all__ = [
    "AuditCorruption",
    "BrokerError",
    "CheckpointError",
    "ConfigError",
    "DataFileError",
    "Fenced",
    "IdempotencyConflict",
    "InvalidTransition",
    "LeaseError",
    "LeaseHeld",
    "LiveSessionError",
    "MissingExtra",
    "OutcomeUnknown",
    "PluginError",
    "PluginStateError",
    "PostgresError",
    "Rejected",
    "RunDirectoryError",
    "RunExists",
    "RunHeld",
    "SealCheckpointWritten",
    "SinkFailure",
    "StoreFailure",
    "Transient",
    "UnrecordablePath",
    "UsageError",
]


INTERRUPTS: Final = (KeyboardInterrupt, SystemExit)
"""What livesession never catches from a plug-in's code: Ctrl-C and ``sys.exit``.

Every other exception a plug-in raises is that plug-in's failure, ``BaseException``
subclasses included (an ``asyncio.CancelledError``, a ``GeneratorExit``, one of its own):
catching ``Exception`` alone would let those tear the session instead.
"""


class LiveSessionError(Exception):
    """Base class of every error livesession raises on purpose.

    Every one pickles and copies as itself, its message and attributes with it: a host that
    runs sessions in worker processes (``concurrent.futures.ProcessPoolExecutor``,
    ``multiprocessing``) gets the worker's error back as it was raised.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        # Exception's own rebuilt the error as ``type(self)(*self.args)``: ``self.args`` is
        # the message alone, which the errors whose __init__ takes other arguments
        # (InvalidTransition, DataFileError, ...) refused, and a process pool whose worker
        # raised one of them broke whole (BrokenProcessPool), every other task with it.
        return (_unpickled, (type(self), self.args), self.__dict__ or None)


def _unpickled(cls: type[LiveSessionError], args: tuple[Any, ...]) -> LiveSessionError:
    """``cls`` with ``args``, without its ``__init__``: its attributes follow, as pickled."""
    return cls.__new__(cls, *args)


_BARE_KEY: Final = re.compile(r"[A-Za-z0-9_-]+")
"""A TOML bare key: any other key is written quoted (``"seed "``), as TOML writes it."""


class ConfigError(LiveSessionError):
    """Configuration, arguments or environment are invalid; the message says how to fix it."""

    key: str | None = None
    """The unknown key ``unknown_key`` names (``risk.bogus``); None for every other error."""
    table: str = ""
    """The table of the unknown key (``risk``; "" the top level)."""
    known: tuple[str, ...] = ()
    """The keys of the key's own table, for an unknown key."""
    as_written: Callable[[str], str | None] | None = None
    """For a value TOML read unquoted (a float, a datetime): the message that says what to
    write, given the value as the config file writes it (``0.010``, the nanoseconds of a
    time), which the value read has lost; None when that text does not say more."""

    @classmethod
    def unknown_key(
        cls,
        key: str,
        known: Iterable[str],
        *,
        table: str = "",
        elsewhere: str = "",
        note: str = "",
    ) -> ConfigError:
        r"""The error for ``key`` of ``table`` (``bogus`` of ``risk``), not one of ``known``.

        It names the key, where it belongs when ``elsewhere`` says so (another table's key),
        else the nearest known name when one is close, then ``note`` (what is wrong with the
        key's characters), and the known names. A key no bare TOML key could be is written
        quoted, as TOML writes it (``"seed "``, ``""``, a character a screen does not show
        escaped, ``"seed\u200b"``): a ``"seed "`` said ``unknown config key seed (did you
        mean seed?)``.
        """
        import difflib  # noqa: PLC0415 - only on this error path

        prefix = f"{table}." if table else ""
        choices = sorted(known)
        close = difflib.get_close_matches(key, choices, n=1)
        hint = f"did you mean {prefix}{close[0]}?" if close else ""
        hint = elsewhere or hint
        if note:
            hint = f"{hint}{' ' if hint.endswith('?') else ': ' if hint else ''}{note}"
        hint = f" ({hint})" if hint else ""
        said = key if _BARE_KEY.fullmatch(key) else _toml_quoted(key)
        error = cls(f"unknown config key {prefix}{said}{hint}; known keys: {', '.join(choices)}")
        error.key, error.table, error.known = f"{prefix}{key}", table, tuple(choices)
        return error


def _toml_quoted(key: str) -> str:
    r"""``key`` quoted as TOML writes it, each character a screen does not show escaped.

    ``"seed\u200b"``: a zero-width space pasted with a key is shown, where the key quoted
    as it is read ``"seed"``.
    """
    return "".join(
        char if char.isprintable() else f"\\u{ord(char):04x}" if ord(char) <= _BMP_LAST
        else f"\\U{ord(char):08x}"
        for char in json.dumps(key, ensure_ascii=False)
    )  # fmt: skip


_BMP_LAST: Final = 0xFFFF
"""The last code point a ``\\u`` escape writes; beyond it, ``\\U`` and eight digits."""


class UsageError(ConfigError):
    """A command-line argument is wrong."""


class DataFileError(ConfigError):
    """A data file cannot be read or fails its check: the first problem, where it is.

    ``line`` (1 is the header), ``column`` (a column name) and ``value`` (the cell's text)
    are None where they do not apply, e.g. a file that cannot be opened.
    """

    def __init__(
        self,
        message: str,
        *,
        path: Path,
        line: int | None,
        column: str | None,
        value: str | None,
    ) -> None:
        super().__init__(message)
        self.path = path
        self.line = line
        self.column = column
        self.value = value


class PluginError(ConfigError):
    """A plug-in (``package.module:callable``) that cannot be imported, called or used.

    Also raised when a run is resumed or re-run and a referenced module's source file no
    longer has the SHA-256 the run recorded. The message names the reference.
    """


class UnrecordablePath(ConfigError):
    """A path this process cannot record or name: the file's name, or the locale, is at fault.

    Not the config's: a run's ``config.json`` read back under an ASCII locale names a
    directory beyond ASCII, and is not corrupt for it.
    """


class InvalidTransition(LiveSessionError):
    """A trigger was fired in a state that does not allow it; the state is unchanged.

    With ``call``, ``trigger`` is the method the caller called (``preflight``), and the
    message names it as called (``preflight() is not allowed in state PREFLIGHT_OK``), not
    as the machine's trigger behind it (``preflight_passed``), which the caller never saw.
    """

    def __init__(self, trigger: str, state: str, *, why: str = "", call: bool = False) -> None:
        said = f"{trigger}() is not allowed" if call else f"trigger {trigger!r} is not allowed"
        said += f" in state {state}"
        super().__init__(f"{said}: {why}" if why else said)
        self.trigger = trigger
        self.state = state


class RunDirectoryError(LiveSessionError):
    """A run directory is missing, from another version, or corrupt."""


class AuditCorruption(RunDirectoryError):
    """A line in the middle of ``audit.jsonl`` is not valid or breaks the chain."""


class LeaseHeld(RunDirectoryError):
    """Another live session holds the (account, strategy) lease; nothing was changed."""


class RunExists(RunDirectoryError):
    """The run directory is there already (its run id is taken); nothing was changed.

    The one refusal ``dryrun`` answers by choosing the next free id when it chose the id
    itself (another dryrun took it a moment ago); any other failure stops it with its cause.
    """


class RunHeld(RunDirectoryError):
    """Another process holds the run directory's writer lock; nothing was changed."""


class SealCheckpointWritten(RunDirectoryError):
    """``resume_run`` of a sealed run: it wrote the sealing checkpoint, and nothing else.

    The run's audit log holds its seal (``C2_DRYRUN_STOP``), but its process ended before
    the sealing checkpoint: there is nothing to resume. ``status`` is the seal's
    (``COMPLETED``, ``FAILED`` or ``REJECTED``).
    """

    def __init__(self, message: str, *, status: str) -> None:
        super().__init__(message)
        self.status = status


class CheckpointError(LiveSessionError):
    """A checkpoint cannot be read, parsed or written."""


class PluginStateError(CheckpointError):
    """A feed's or a strategy's ``get_state`` raised, or gave what JSON cannot hold.

    The session takes it as that plug-in's failure: ``reason`` is ``FEED_ERROR`` or
    ``STRATEGY_ERROR`` and ``cause`` the exception behind it.
    """

    def __init__(self, reason: str, cause: BaseException) -> None:
        self.reason = reason
        self.cause = cause
        self.owner = "strategy" if reason == "STRATEGY_ERROR" else "feed"
        super().__init__(
            f"the {self.owner}'s get_state failed ({type(cause).__name__}): its state cannot be "
            "checkpointed (use only JSON types; store Decimals as strings)"
        )


class IdempotencyConflict(LiveSessionError):
    """The same idempotency key was reserved with a different fingerprint."""


class SinkFailure(LiveSessionError):
    """An artifact sink kept failing after its retries; the session stopped trading."""


class StoreFailure(LiveSessionError):
    """An idempotency store or a simulated venue's journal refused a write (a full disk).

    The session cannot keep its promise not to send an order twice without the store, so
    it stops where it is, seals nothing, and its run is a crash at its last checkpoint:
    ``resume`` continues it once the store can be written again. So for the journal of the
    built-in simulated venues (``broker_journal.jsonl``), which a resume rebuilds the venue
    from: the refused line is taken back whole, and the request never reached the venue.
    """


class MissingExtra(LiveSessionError):
    """An optional dependency is missing; the message names the extra to install.

    ``broken`` is set when the module is installed but its import failed, in the import's
    own words (a pyarrow built for NumPy 1 beside NumPy 2, a dependency of its own gone):
    the message says so and to upgrade the extra, not that it is not installed. An
    ``extra`` of ``""`` is a dependency of livesession itself, gone from a broken install
    (``jsonschema``): the message says to install the module.
    """

    def __init__(self, module: str, extra: str, *, broken: str | None = None) -> None:
        if broken is None:
            what, verb, flag = "is not installed", "install", ""
        else:
            what, verb, flag = f"is installed but fails to import ({broken})", "upgrade", "-U "
        package = f"'livesession[{extra}]'" if extra else module
        needed = "" if extra else ", though livesession depends on it"
        super().__init__(f"{module} {what}{needed}: {verb} it with `pip install {flag}{package}`")
        self.module = module
        self.extra = extra
        self.broken = broken


class LeaseError(LiveSessionError):
    """The lease store cannot be read or written (corrupt file, unreachable server).

    Treat it like a lost lease: stop trading.
    """


class Fenced(LeaseError):
    """A write to shared state was refused: a newer holder took the lease since this grant.

    Raised by a fenced store (``PostgresIdempotencyStore``, ``PostgresCheckpointStore``)
    when the (account, strategy) lease already carries a larger fencing token than the
    writer's, or its row is no longer the writer's grant (gone, an older token, another
    holder at the same one: the lease table was reset); nothing was written. The writer
    lost its lease: it must stop, not retry. ``fence`` is the writer's token, ``newest``
    the lease's current one (None when its row is gone).
    """

    def __init__(self, message: str, *, fence: int, newest: int | None) -> None:
        super().__init__(message)
        self.fence = fence
        self.newest = newest


class PostgresError(LiveSessionError):
    """The PostgreSQL server could not be reached or failed a statement (no secret inside)."""


class BrokerError(LiveSessionError):
    """A broker call failed. Adapters raise one of the three subclasses, never this."""

    def __init__(self, message: str, *, client_order_id: str | None = None) -> None:
        super().__init__(message)
        self.client_order_id = client_order_id


class Transient(BrokerError):
    """The request never reached the venue; resending the same client id is safe."""


class OutcomeUnknown(BrokerError):
    """The request may have been applied; look the order up before resending anything."""


class Rejected(BrokerError):
    """The venue refused the request; final. ``reason`` is a short upper-case code."""

    def __init__(
        self, message: str, *, reason: str = "REJECTED", client_order_id: str | None = None
    ) -> None:
        super().__init__(message, client_order_id=client_order_id)
        self.reason = reason
