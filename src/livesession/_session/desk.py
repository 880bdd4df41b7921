"""A desk's own rails and preflight checks: their answers held to the protocol.

A rail answers ``None`` or a ``Rejection``; a check a ``CheckResult`` whose ``passed`` is
``True`` or ``False``. Either is the caller's code, so it may raise or answer anything:
``rail_answer`` turns that into a ``RailError`` naming the rail (the step's fault, as any
error the step cannot handle), and ``check_answer`` into a failed check naming it
(``CHECK_ERROR``: the session is rejected, sealed, before it trades). Neither lets a
junk answer pass: a ``passed`` of ``"no"`` is no pass.
"""

from __future__ import annotations

from decimal import getcontext, setcontext
from typing import TYPE_CHECKING, Final

from .._domain.decimal import CONTEXT
from .._exceptions import INTERRUPTS
from .._risk.checks import CheckResult
from .._risk.rails import Rejection
from .._support.calledfrom import calling
from .._support.references import a_
from .._support.secrets import redact_text
from .._support.text import exception_text, valid_text

if TYPE_CHECKING:
    from .._domain.model import OrderIntent
    from .._risk.checks import AnyCheck, PreflightContext
    from .._risk.rails import Rail, RiskContext

__all__ = ["CHECK_ERROR", "RECORD_FIELDS", "RailError", "check_answer", "rail_answer"]

CHECK_ERROR: Final = "CHECK_ERROR"
"""The reason of a check that raised, or answered what is not a ``CheckResult``."""
RECORD_FIELDS: Final = frozenset(
    {"intent_seq", "signal_id", "rule", "symbol", "side", "quantity", "reason"}
)
"""The fields ``RISK_REJECTED`` has of its own: a rail's ``detail`` may not change them."""


_OWN_RAILS: Final = Rejection.__module__


class RailError(Exception):
    """A rail raised, or answered what the record cannot hold: the step's fault names it.

    Not a ``LiveSessionError``, which a step lets through: this one faults the session
    (``UNEXPECTED_ERROR``, sealable), as any error the step cannot handle.
    """


def _a(value: object) -> str:
    return "None" if value is None else a_(type(value).__name__)


def _raised(exc: BaseException) -> str:
    said = redact_text(valid_text(exception_text(exc)))  # none: named alone (MemoryError)
    return f"raised {type(exc).__name__}{f': {said}' if said else ''}"


def _rail_name(rail: object) -> str:
    rule = getattr(rail, "rule", None)
    cls = type(rail)
    where = f"{cls.__module__}.{cls.__qualname__}"
    return f"rail {rule!r} ({where})" if isinstance(rule, str) else f"rail {where}"


def rail_answer(rail: Rail, intent: OrderIntent, ctx: RiskContext) -> Rejection | None:
    """``rail``'s answer for ``intent``: ``None`` or a ``Rejection`` the record can hold.

    Anything else (a raise, a ``True``, a ``detail`` of numbers rather than strings, or one
    that would change the record's own fields) raises ``RailError`` naming the rail.
    """
    if type(rail).__module__ == _OWN_RAILS:  # livesession's own: their details are the record's
        # The step computes in the library's context already, each plug-in's call fenced
        # (a desk's rail's below), so their ``with_context``, there for callers outside a
        # session, is passed by: a context entered and left for each rail of each intent.
        own = getattr(type(rail).__call__, "__wrapped__", None)
        return rail(intent, ctx) if own is None else own(rail, intent, ctx)
    step_context = getcontext()
    setcontext(CONTEXT.copy())  # as a strategy's: its change of the context in place ends here
    try:
        with calling("a rail"):
            answer = rail(intent, ctx)
    except INTERRUPTS:
        raise
    except BaseException as exc:
        raise RailError(f"{_rail_name(rail)} {_raised(exc)}") from exc
    finally:
        setcontext(step_context)
    if answer is None:
        return None
    if not isinstance(answer, Rejection):
        raise RailError(f"{_rail_name(rail)} returned {_a(answer)}, not a Rejection or None")
    problem = _rejection_problem(answer, intent)
    if problem:
        raise RailError(f"{_rail_name(rail)} returned a Rejection whose {problem}")
    return answer


def _rejection_problem(no: Rejection, intent: OrderIntent) -> str:
    texts: tuple[object, ...] = (no.rule, no.reason)
    if not all(isinstance(text, str) for text in texts):
        return "rule and reason must be strings"
    detail: object = no.detail
    if not isinstance(detail, dict):
        return f"detail is {_a(detail)}, not a dict of strings"
    own = {"rule": no.rule, "symbol": intent.symbol, "side": intent.side.value}
    for key, value in detail.items():
        if not isinstance(key, str) or not isinstance(value, str):
            what = f"key {key!r}" if isinstance(key, str) else _a(key) + " key"
            return (
                f"detail holds {_a(value)} at {what}: its keys and values are strings "
                "(write numbers as str(...))"
            )
        if key in RECORD_FIELDS and own.get(key) != value:
            return f"detail holds {key!r}, a field RISK_REJECTED records of its own"
    return ""


def _check_name(check: object) -> str:
    name = getattr(check, "name", None)
    if isinstance(name, str) and name:
        return name
    return str(getattr(check, "__name__", None) or type(check).__qualname__)


def check_answer(check: AnyCheck, ctx: PreflightContext) -> CheckResult:
    """``check``'s result, or a failed one (``CHECK_ERROR``) naming it when it has none.

    A check that raises, or answers anything but a ``CheckResult`` whose ``passed`` is a
    bool, fails: preflight rejects the session rather than trade on a check that said
    nothing (fail closed).
    """
    name = _check_name(check)
    try:
        answer: object = check(ctx)  # the caller's: anything, whatever its annotation says
    except INTERRUPTS:
        raise
    except BaseException as exc:  # noqa: BLE001 - a caller's code: the check failed
        return _failed(name, f"check {name!r} {_raised(exc)}")
    if not isinstance(answer, CheckResult):
        return _failed(name, f"check {name!r} returned {_a(answer)}, not a CheckResult")
    passed: object = answer.passed
    if not isinstance(passed, bool):
        return _failed(
            name,
            f"check {name!r} returned a CheckResult whose passed is {_a(passed)}, "
            "not True or False",
        )
    texts: tuple[object, ...] = (answer.name, answer.reason, answer.detail)
    if not all(isinstance(text, str) for text in texts):
        return _failed(name, f"check {name!r} returned a name, reason or detail not a string")
    return answer


def _failed(name: str, detail: str) -> CheckResult:
    return CheckResult(name=name, passed=False, reason=CHECK_ERROR, detail=detail)
