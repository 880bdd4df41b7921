"""A feed's or a strategy's state, checked as the checkpoint takes it: JSON as it is, a dict.

The state is the caller's code: ``get_state`` may raise, give what JSON cannot hold (a set, a
Decimal), give what JSON gives back as another value (a NaN, a tuple), or hold the value of
one of the environment's secrets. Each is that plug-in's failure, said by the state's key
(``state['ema']``) and what gives the value as JSON, never by a secret's value.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Any, Final, NoReturn

import orjson

from .._domain.decimal import fenced
from .._exceptions import INTERRUPTS, PluginStateError
from .._support.pluginwords import defined_at
from .._support.references import a_
from .._support.secrets import environment_secret_in
from .stateorder import ORDER_SUFFIX, key_orders, own_state

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .._typing import MarketFeed, Strategy

__all__ = ["GET_STATE_AT", "PlugInState"]

GET_STATE_AT: Final = "get_state is at "
"""The note on a state the session refused, for the CLI's line: ``get_state is at FILE:LINE``."""


_USE_JSON: Final = ": use only JSON types, and store Decimals as strings"
_NOT_A_DICT: Final = (
    " (a forgotten return?): set_state gets it back on resume; return the state as a dict "
    "of JSON values, {} when there is nothing to keep"
)


def _changed(given: object, back: object, where: str) -> str:
    """Where JSON gives back something other than ``given``, and what (for the message).

    orjson writes a NaN or an infinity as null, a tuple as a list, a datetime as text: the
    checkpoint would hold it, and a resumed run would get another value than it saved.
    """
    if isinstance(given, dict) and isinstance(back, dict):
        for key, value in given.items():
            if back.get(key) != value:
                return _changed(value, back.get(key), f"{where}[{key!r}]")
    elif isinstance(given, list) and isinstance(back, list):
        for index, (value, again) in enumerate(zip(given, back, strict=False)):
            if again != value:
                return _changed(value, again, f"{where}[{index}]")
    shown = f"{given!r}"[:80]
    return f"{shown} ({type(given).__name__}) at {where}, which JSON gives back as {back!r:.80}"


_PLAIN_ONLY: Final = orjson.OPT_PASSTHROUGH_SUBCLASS
"""orjson writes a subclass of dict, list, str or int as its base (a ``Counter``, a
``defaultdict``, an ``OrderedDict`` as a dict), which compares equal to it: a resume would
hand ``set_state`` a plain dict, whose missing key raises where the ``Counter`` gave 0 (the
uninterrupted run completed, the resumed one failed). With this option it refuses them."""
_PLAIN_TYPES: Final = ((dict, dict), (list, list), (tuple, list), (str, str), (int, int))
"""A subclass of each (left) is given back by JSON as the plain type (right)."""

_DEEPEST: Final = 256
"""Levels ``_refused_at`` looks down (orjson's own limit is 254): a state nested deeper, or
one that holds itself, is named without a place."""


def _refused_at(value: object, where: str, depth: int = 0) -> str | None:
    """Where in the state JSON cannot go: `` at state['ema']``, or None when it cannot say.

    A key that is not a string is named by the mapping it is in (its value may be anything,
    a secret too); a value JSON cannot hold by the key or index that leads to it.
    """
    if depth > _DEEPEST:
        return None
    children: Iterator[tuple[object, str]]
    if type(value) is dict:  # a subclass (a Counter) is refused whole, below
        other = [key for key in value if type(key) is not str]  # a StrEnum too
        if other:
            return f" at a key of {where}, {a_(type(other[0]).__name__)} where a string belongs"
        children = ((item, f"{where}[{key!r}]") for key, item in value.items())
    elif type(value) is list or type(value) is tuple:
        children = ((item, f"{where}[{index}]") for index, item in enumerate(value))
    else:
        try:
            orjson.dumps(value, option=_PLAIN_ONLY)
        except TypeError:
            return f" at {where}{_subclass_hint(value) or _json_hint(value)}"
        return None
    found = (_refused_at(item, at, depth + 1) for item, at in children)
    return next((place for place in found if place is not None), None)


def _subclass_hint(value: object) -> str:
    """For a subclass of a JSON type (a ``Counter``): what gives it as JSON, and what then."""
    kind = type(value)
    for plain, as_json in _PLAIN_TYPES:
        if isinstance(value, plain) and kind is not plain:
            return (
                f" ({as_json.__name__}(x) is it as JSON: a resume hands set_state a plain "
                f"{as_json.__name__}, to make {a_(kind.__name__)} again)"
            )
    return ""


def _json_hint(value: object) -> str:
    """What gives ``value``'s content as JSON (numpy's and pandas' types), or ""."""
    kind = type(value)
    if isinstance(value, float):  # a float subclass (numpy's float64): orjson takes none
        return " (float(x) is the float it holds)"
    if isinstance(value, int):  # beyond 64 bits (numpy's random state holds 128)
        return " (str(x) keeps it exactly, as text)"
    for kinds, said in _TYPE_HINTS:
        if isinstance(value, kinds):
            return said
    if callable(getattr(kind, "tolist", None)) and hasattr(kind, "__len__"):
        return " (x.tolist() gives its values as plain lists and numbers)"  # an ndarray
    for method, hint in _JSON_HINTS:
        if callable(getattr(kind, method, None)):
            return hint
    return ""


_TYPE_HINTS: Final = (
    ((set, frozenset), " (sorted(x) is a list of it, in an order that repeats)"),
    (  # a pickled model, say
        (bytes, bytearray, memoryview),
        " (base64.b64encode(x).decode() is it as text, base64.b64decode(s) it again)",
    ),
)
_JSON_HINTS: Final = (
    ("__index__", " (int(x) is the integer it holds)"),  # numpy's int64
    ("to_dict", ' (x.to_dict("list") gives its columns as lists)'),  # a DataFrame
    ("isoformat", " (x.isoformat() is its text)"),  # a pandas Timestamp
    ("item", " (x.item() is the plain value it holds)"),  # numpy's float32, bool_
)


_LEAVES: Final = frozenset({str, int, float, bool, type(None)})


def _member_at(value: object, where: str, depth: int = 0) -> tuple[Enum, str] | None:
    """An ``Enum`` member in a state JSON took, and where it is; or None.

    orjson writes a member as its value, and a ``StrEnum``'s or an ``IntEnum``'s compares
    equal to it: the round trip passes, and a resume hands ``set_state`` the plain value
    (``'up'``, whose ``.name`` raises). A list of plain values is passed over whole.
    """
    if isinstance(value, Enum):
        return value, where
    children: Iterator[tuple[object, str]]
    if type(value) is dict and depth <= _DEEPEST:
        if set(map(type, value.values())) <= _LEAVES:
            return None
        children = ((item, f"{where}[{key!r}]") for key, item in value.items())
    elif type(value) is list and depth <= _DEEPEST:
        if set(map(type, value)) <= _LEAVES:
            return None
        children = ((item, f"{where}[{index}]") for index, item in enumerate(value))
    else:
        return None
    found = (_member_at(item, at, depth + 1) for item, at in children)
    return next((member for member in found if member is not None), None)


def _member_words(member: Enum, where: str) -> str:
    """``Regime.UP (Regime) at state['regime'], which JSON gives back as 'up': ...``."""
    kind = type(member).__name__
    return (
        f"{member!r:.80} ({kind}) at {where}, which JSON gives back as {member.value!r:.80}: "
        f"a resume hands set_state the plain value (keep x.value, and make it {a_(kind)} "
        f"again with {kind}(value))"
    )


def _holding(value: object, form: bytes, where: str) -> str:
    """Where in the state ``value`` its JSON holds ``form``: ``state['auth']['key']``.

    A key holding it is named by the mapping it is in, never quoted: the key is the secret.
    """
    if isinstance(value, dict):
        for key, item in value.items():
            if form in orjson.dumps(key):
                return f"a key of {where}"
            if form in orjson.dumps(item):
                return _holding(item, form, f"{where}[{key!r}]")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if form in orjson.dumps(item):
                return _holding(item, form, f"{where}[{index}]")
    return where


class PlugInState:
    """A feed's or a strategy's state under its checkpoint key, checked as JSON when taken.

    The caller's ``get_state`` may raise, give what JSON cannot hold (a set, a Decimal), or
    hold the value of one of the environment's secrets (``MYDESK_API_SECRET``'s, which the
    evidence's scan would find in ``checkpoint.json`` only after the run): each is that
    plug-in's failure (``PluginStateError`` with ``reason``), found when the state is taken
    rather than when the checkpoint file is written, and said by the variable's name and
    the state's key, never the value. A subclass of a JSON type (a ``Counter``) is no JSON
    type: a resume would get the plain one back. So is a state that is no dict (None: a forgotten
    ``return``, which a resume would hand ``set_state``). From then on the key
    holds None: the run has failed and is never resumed from a later checkpoint, but its
    sealing checkpoint still goes out.
    """

    def __init__(self, key: str, owner: MarketFeed | Strategy, *, reason: str) -> None:
        self.key = key
        self._owner = owner
        self._reason = reason
        self.failed = False

    def get_state(self) -> dict[str, Any]:
        """``{key: state}``; raises ``PluginStateError`` the first time the state fails."""
        if self.failed:
            return {self.key: None}
        try:
            given: object = fenced(self._owner.get_state)  # typed dict; the caller's may not be
        except INTERRUPTS:
            raise
        except BaseException as exc:  # noqa: BLE001 - the caller's code: one path for every error
            self._fail(exc)
        if not isinstance(given, dict):  # a forgotten return: resume would hand set_state None
            got = "None" if given is None else a_(type(given).__name__)
            self._refuse(TypeError(f"get_state returned {got}, not a dict{_NOT_A_DICT}"))
        state: dict[str, Any] = given
        try:
            # What every checkpoint store does with it; a resume gets back what it reads.
            written = orjson.dumps(state, option=_PLAIN_ONLY)
            back = orjson.loads(written)
        except TypeError as exc:  # orjson.JSONEncodeError is a TypeError
            at = _refused_at(state, "state") or ""
            self._refuse(TypeError(f"get_state gave what JSON cannot hold ({exc}){at}{_USE_JSON}"))
        if back != state:
            self._refuse(TypeError(f"get_state gave {_changed(state, back, 'state')}{_USE_JSON}"))
        member = _member_at(state, "state")
        if member is not None:
            self._refuse(TypeError(f"get_state gave {_member_words(*member)}{_USE_JSON}"))
        leaked = environment_secret_in(written)
        if leaked is not None:
            name, form = leaked
            self._refuse(
                ValueError(
                    f"get_state gave the value of ${name} at {_holding(state, form, 'state')}: "
                    "the checkpoint is a file of the run, which reviewers are handed; keep "
                    "credentials out of the state (read them from the environment when needed)"
                )
            )
        orders = key_orders(state)  # the checkpoint sorts them; a resume restores them
        return {self.key: state, self.key + ORDER_SUFFIX: orders} if orders else {self.key: state}

    def _refuse(self, problem: Exception) -> NoReturn:
        """Fail with ``problem``, noting where ``get_state`` is: no line of it raised.

        The note is for the CLI's failure line, never the run's record (a path is no part of
        a run's evidence), as ``on_bar``'s is for an answer the session refused.
        """
        where = defined_at(self._owner, "get_state")
        if where is not None:
            problem.add_note(f"{GET_STATE_AT}{where}")
        self._fail(problem)

    def _fail(self, cause: BaseException) -> NoReturn:
        self.failed = True
        raise PluginStateError(self._reason, cause) from cause

    def set_state(self, state: dict[str, Any]) -> None:
        """Hand the plug-in its own key of a whole checkpoint, its dicts in their order."""
        fenced(self._owner.set_state, own_state(state, self.key))
