"""The factories a matrix is given, checked before they are called: each a ``TypeError``.

The matrix calls ``strategy_factory`` and ``feed_factory`` with no argument, once per run.
One that is no callable at all (a config's ``"module:function"`` string), one that needs
arguments, or a ``functools.partial`` binding what its function does not take would raise
Python's own error from within the matrix, or (a feed factory returning None) quietly run
the config's feed instead; each is refused here, naming the factory and the fix. So is a
``config`` setting what no run of the matrix uses (its broker, another strategy): a
``ConfigError``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Mapping
from typing import Any, Final

from .._domain.config import DryrunConfig
from .._exceptions import ConfigError
from .._support.references import a_, not_a, uncallable
from ._rerun import factory_name

__all__ = ["check_bare", "not_made", "refuse_unused"]

_EXAMPLES: Final = {
    "strategy_factory": 'functools.partial(make_strategy, strategy_id="mine", ...)',
    "feed_factory": 'functools.partial(make_feed, symbol="BTC/USDT", ...)',
}


def check_bare(role: str, factory: object) -> None:
    """Refuse a ``role`` factory the matrix cannot call with no argument (``TypeError``)."""
    if not callable(factory):
        msg = (
            f"{role} must be a callable that returns a new {role.split('_', maxsplit=1)[0]}, got "
            f"{a_(type(factory).__name__)}: pass the factory itself (a config's "
            '"module:function" names it; import it and pass it, or a functools.partial of it)'
        )
        raise TypeError(msg)
    try:
        signature = inspect.signature(factory)
    except ValueError:
        _check_partial(role, factory)  # else no signature to read (a builtin): the call says
        return
    try:
        signature.bind()
    except TypeError as exc:
        msg = (
            f"{role} must be callable with no argument (called bare: {_lacking(signature, exc)}"
            f"); bind its arguments first: {_EXAMPLES[role]}"
        )
        raise TypeError(msg) from None


def _lacking(signature: inspect.Signature, exc: TypeError) -> str:
    """What a bare call lacks, in the same words on every Python.

    ``inspect``'s own message changed with the interpreter (3.13 says ``missing a required
    keyword-only argument: 'how'`` where 3.11 says ``missing a required argument: 'how'``).
    """
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    names = [
        repr(parameter.name)
        for parameter in signature.parameters.values()
        if parameter.default is parameter.empty and parameter.kind not in variadic
    ]
    if not names:
        return str(exc)
    return f"missing the required argument{'s' if len(names) > 1 else ''} {', '.join(names)}"


def _check_partial(role: str, factory: object) -> None:
    """A ``functools.partial`` whose bound arguments its function does not take.

    Its signature cannot be read (``ValueError``), and calling it raises the function's own
    ``TypeError`` from within the matrix; this one names the partial and the argument.
    """
    if not isinstance(factory, functools.partial):
        return
    try:
        inspect.signature(factory.func).bind_partial(*factory.args, **factory.keywords)
    except TypeError as exc:
        msg = (
            f"{role} {factory_name(factory)} binds what {factory_name(factory.func)} does not "
            f"take ({exc})"
        )
        raise TypeError(msg) from None
    except ValueError:
        pass  # no signature to read: the call says what it says


def not_made(role: str, made: object, kind: type) -> TypeError:
    """The error to raise when a ``role`` factory returned ``made``, not a ``kind``.

    Or a ``kind`` whose method the session cannot call as it calls it (``uncallable``: a
    wrong signature), which failed its run's first step as if it had returned what the
    session cannot use: ``strategy_factory returned a Momentum: its on_bar takes (bar), but
    the session calls on_bar(bar, view) (on_bar is at ...)``.
    """
    wrong = uncallable(made, kind) if isinstance(made, kind) else ""
    if wrong:
        return TypeError(f"{role} returned {a_(type(made).__name__)}: {wrong}")
    return TypeError(f"{role} returned {not_a(made, kind)}")


_UNUSED: Final = (
    "broker",
    "broker_params",
    "fill_model",
    "realish",
    "strategy",
    "strategy_factory",
    "strategy_params",
)
"""Config keys the matrix has no use for: its strategy is ``strategy_factory``'s and its venue
a ``FaultBroker`` of its own."""


def refuse_unused(cfg: DryrunConfig, given: Mapping[str, Any]) -> None:
    """Refuse a ``config`` that sets what no run of the matrix uses (``ConfigError``).

    A desk passing its config (``load_config("desk.toml").to_dict()``) whose ``broker``
    names its venue would otherwise read a passing matrix as that venue's; a key left at
    its default (as ``to_dict()`` writes it) is no choice, and passes.
    """
    default = DryrunConfig()
    unused = [key for key in _UNUSED if key in given and getattr(cfg, key) != getattr(default, key)]
    if unused:
        msg = (
            f"config sets {', '.join(unused)}, which the matrix does not use: it runs "
            "strategy_factory's strategy on a FaultBroker of its own (docs/testing.md); drop "
            f"{'it' if len(unused) == 1 else 'them'} from config"
        )
        raise ConfigError(msg)
