"""What the strategy (or the feed) did when its run failed, in the user's words.

The ``STRATEGY_ERROR`` / ``FEED_ERROR`` event holds the error's type, its redacted message
and the step, but not where it came from: that is in the exception the session keeps in
memory (``SessionInspection.fault_cause``). Its traceback tells the two cases apart: the
user's own code raised (the innermost frame of that code names the line), or ``on_bar``
(``next_bar``) returned what the session cannot use, which the session's check raised
about (no frame of the user's code: then the method itself is named, where it is defined).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

import orjson

from .._session.answers import ON_BAR_AT
from .._session.pipeline import error_message
from .._session.plugstate import GET_STATE_AT
from .._support.pluginwords import defined_at
from .._support.secrets import redact_text
from .._support.text import UNPRINTABLE, exception_text, printable_line
from .._support.usercode import users_line

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "INPUT_ERRORS",
    "after_resume",
    "chainable",
    "input_error",
    "located",
    "never_sent",
    "raised_at",
    "refused_always",
    "users_line",
]

INPUT_ERRORS: Final = {
    "STRATEGY_ERROR": ("strategy", "on_bar", "act on"),
    "FEED_ERROR": ("feed", "next_bar", "use"),
}
"""Per fault of the session's inputs: whose it is, the method that gives the session what
it uses, and what the session does with it."""


def input_error(
    kind: str, payload: Mapping[str, Any], cause: BaseException | None, plugin: object
) -> tuple[str, BaseException | None]:
    """The event ``kind``'s ``payload`` as a finding, and the exception to chain.

    ``cause`` is the exception the session kept (used only when it is the event's own),
    ``plugin`` the run's strategy or feed (None: the config's built-in feed); its method is
    named when it returned what the session refused. The exception to chain is the one the
    user's code raised (``chainable``); the session's refusal of what it returned is not
    chained: the user's code raised nothing, and the traceback would point into livesession.
    """
    owner, method, does = INPUT_ERRORS[kind]
    error, recorded, step = payload["error"], payload["message"], payload["step"]
    message = printable_line(recorded)  # the finding's one line holds it, its breaks escaped
    # ``GeneratorExit``, ``MemoryError``: an error raised without a message is named alone
    error_said = f"{error}: {message}" if message else str(error)
    if cause is None or not _is_events(cause, error, recorded):
        return f"the {owner} raised {error_said} (step {step})", None
    line = users_line(cause)
    if line is not None:
        said = f"the {owner} raised {error_said} (step {step}, at {line})"
        return said, chainable(cause)
    where = None if plugin is None else defined_at(plugin, method)
    if where is None:  # livesession's own feed (or no Python method to name)
        return f"the {owner} failed (step {step}): {error_said}", None
    said = f"the {owner} returned what the session cannot {does} (step {step}): {message}"
    return f"{said} ({method} is at {where})", None


_NOT_TRADED: Final = frozenset({"ALLOWLIST", "NO_MARKET_PRICE"})
"""Rails that refuse an intent for a symbol the session does not trade (no fault does)."""


def refused_always(
    payload: Mapping[str, Any], step: int, symbol: str, strategy: object
) -> str | None:
    """A ``RISK_REJECTED`` the strategy's intent earns whatever the venue does, as a finding.

    An intent for another symbol than the session's, or of quantity zero, is never an
    order: the rails refuse it at every step, so a strategy that only asks so never trades,
    and a matrix that let it through would pass a strategy that does nothing (None: any
    other refusal, a rail doing its work).
    """
    rule, asked = payload.get("rule"), payload.get("symbol")
    if rule in _NOT_TRADED and asked != symbol:
        what = f"an OrderIntent for {asked!r}, a symbol the session does not trade"
        fix = f"; it trades {symbol!r}, the bar's symbol (bar.symbol)"
    elif rule == "QTY_BELOW_LOT" and Decimal(str(payload.get("quantity", "NaN"))) == 0:
        what, fix = "an OrderIntent of quantity 0, which is no order", ""
    else:
        return None
    refused = f"RISK_REJECTED {rule}: {printable_line(str(payload.get('reason')))}"
    where = defined_at(strategy, "on_bar")
    at = "" if where is None else f" (on_bar is at {where})"
    said = f"the strategy asked for what the session refuses at every step (step {step})"
    return f"{said}: {what} ({refused}){fix}{at}"


def never_sent(refusals: Sequence[Mapping[str, Any]], strategy: object) -> str | None:
    """A run that sent no order, each intent above ``max_order_qty``, as a finding; else None.

    The rail refuses such an intent at every step whatever the venue does, as one of
    quantity 0: a strategy that only sizes so (or a matrix run under a smaller limit than
    the desk's) never trades, and the matrix, which tested no order, passed it.
    """
    if not refusals or any(payload.get("rule") != "MAX_ORDER_QTY" for payload in refusals):
        return None
    first = refusals[0]
    where = defined_at(strategy, "on_bar")
    at = "" if where is None else f" (on_bar is at {where})"
    return (
        f"the strategy never traded: the max_order_qty rail refused every order it asked for "
        f"({len(refusals)}, the first at step {first.get('step', '?')}: RISK_REJECTED "
        f"MAX_ORDER_QTY: {printable_line(str(first.get('reason')))}), so no order was tested; "
        "size them "
        "within it, or run the matrix under the desk's own limit: "
        f"config={{'risk': {{'max_order_qty': '...'}}}}{at}"
    )


def chainable(cause: BaseException | None) -> BaseException | None:
    """``cause``, to chain as an ``AssertionError``'s ``__cause__``; None if it holds a secret.

    Its message is as raised: one a secret rule would redact (a key the strategy quoted) is
    left out of the chain, whose message pytest prints; the finding still names the line.
    So is one whose ``__str__`` raises: what it would print cannot be checked (and the
    finding, not a second error out of the check, is what the matrix reports).
    """
    if cause is None:
        return None
    text = exception_text(cause)
    if text == UNPRINTABLE:
        return None
    return cause if redact_text(text) == text else None


def _is_events(cause: BaseException, error: str, message: str) -> bool:
    """Whether ``cause`` is the exception the event records (its type and message)."""
    return type(cause).__name__ == error and error_message(cause) == message


def raised_at(reason: str, detail: str, cause: BaseException | None) -> str:
    """``; raised at desk/strat.py:12 in on_bar; ...``: the CLI's word on an input error.

    ``reason`` and ``detail`` are the run's result's, ``cause`` the session's
    ``fault_cause``: the run's files hold the error's type and message, not the line of
    the desk's code that raised it, which was to be dug out of the session log. When no
    line of the desk's raised (the session refused what ``on_bar`` returned, and the message
    says what), ``; on_bar is at desk/strat.py:9``, where the method is defined; "" when the
    reason is no input error or the cause is not the error recorded.
    """
    if reason not in INPUT_ERRORS or cause is None:
        return ""
    if detail.partition(":")[0] != type(cause).__name__:
        return ""
    line = users_line(cause)
    if line is not None:
        return f"; raised at {printable_line(line)}; traceback in session.log.jsonl"
    # The session refused what on_bar returned, or the state get_state gave: where the
    # method is, noted as it refused it.
    notes = [
        n for n in getattr(cause, "__notes__", ()) if str(n).startswith((ON_BAR_AT, GET_STATE_AT))
    ]
    return f"; {printable_line(notes[-1])}" if notes else ""


def located(cause: BaseException, plugin: object, method: str) -> str:
    """Where to look for what ``plugin``'s ``method`` failed with (``cause``).

    ``, at file:line in function``: the user's line that raised; else ``; get_state is at
    file:line``, where the method is defined (it gave what the session refused: no line of
    the user's raised); else nothing.
    """
    line = users_line(cause)
    if line is not None:
        return f", at {line}"
    where = defined_at(plugin, method)
    return "" if where is None else f"; {method} is at {where}"


def after_resume(events: Sequence[bytes], kill_after: int) -> str:
    """What to ask of a strategy's (feed's) error the resumed run met past its kill, or "".

    The uninterrupted run of the same case met none (it is checked first), so what the
    resumed one had that the other had not is what ``set_state`` restored: ``; the
    uninterrupted run did not fail there: does the strategy's get_state hold all its
    memory, and its set_state restore it (or is it not deterministic)?``.
    """
    for line in events:
        if b"_ERROR" not in line:
            continue  # most lines: not parsed
        event = orjson.loads(line)
        kind, step = event.get("event_type"), event.get("payload", {}).get("step")
        if kind in INPUT_ERRORS and isinstance(step, int) and step > kill_after:
            owner = INPUT_ERRORS[kind][0]
            memory = "all its memory" if owner == "strategy" else "its whole position"
            return (
                f"; the uninterrupted run did not fail there: does the {owner}'s get_state "
                f"hold {memory}, and its set_state restore it (or is it not deterministic)?"
            )
    return ""
