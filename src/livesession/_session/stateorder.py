"""The order of the keys of a plug-in's state, which the checkpoint's sorted keys lose.

Every checkpoint store writes its JSON with the keys sorted at every level, so a dict of a
strategy's state came back to ``set_state`` sorted: a strategy that keeps recent closes in a
dict, oldest first, and drops ``next(iter(d))``, dropped another one after a resume, and the
resumed run parted from the uninterrupted one although ``get_state`` held all its memory.
Each dict whose keys are not in sorted order is noted, by its place in the state and its
keys as given, under the checkpoint key ``<key>_key_order``, and a resume hands ``set_state``
each such dict in that order again. A state whose dicts are all sorted adds nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from .._exceptions import CheckpointError

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["ORDER_SUFFIX", "key_orders", "own_state"]

ORDER_SUFFIX: Final = "_key_order"
"""The checkpoint key beside the plug-in's own: ``strategy_key_order``."""

_LEAVES: Final = frozenset({str, int, float, bool, type(None)})
_ROWS: Final = _LEAVES | {list}

Place = list[str | int]


def key_orders(state: dict[str, Any]) -> list[list[Any]]:
    """``[[place, keys], ...]`` for each dict of ``state`` whose keys are not sorted.

    ``place`` is the path from the state to the dict (keys and list indexes), ``keys`` its
    keys as given. The state was checked as JSON already: its dicts have string keys, and
    it holds no container twice over a path (JSON has none).
    """
    return [[place, keys] for place, keys in _unsorted(state, [])]


def _unsorted(value: object, place: Place) -> Iterator[tuple[Place, list[str]]]:
    if type(value) is dict:
        keys = list(value)
        if keys != sorted(keys):
            yield place, keys
        children = value.items()
    elif type(value) is list and not _flat(value):
        children = enumerate(value)  # type: ignore[assignment]
    else:
        return
    for step, item in children:  # a list of leaves, or a matrix's rows, holds no dict
        if type(item) is dict or (type(item) is list and not _flat(item)):
            yield from _unsorted(item, [*place, step])


def _flat(items: list[Any]) -> bool:
    """Whether ``items`` holds no dict: leaves, or lists of leaves (a matrix's rows)."""
    kinds = set(map(type, items))
    if kinds <= _LEAVES:
        return True
    rows = (item for item in items if type(item) is list)
    return kinds <= _ROWS and all(set(map(type, row)) <= _LEAVES for row in rows)


def own_state(checkpoint: dict[str, Any], key: str) -> Any:
    """The checkpoint's ``key`` (a plug-in's state) with each noted dict's keys in order.

    The order is the checkpoint's ``<key>_key_order`` (a checkpoint without one gives the
    state as read). One that does not fit the state (an edited checkpoint) raises
    ``CheckpointError``: a resume would hand ``set_state`` another state than ``get_state``
    gave.
    """
    state, orders = checkpoint[key], checkpoint.get(key + ORDER_SUFFIX)
    if orders is None:
        return state
    if not isinstance(orders, list):
        raise CheckpointError(_misfit(key, "it is no list"))
    for entry in orders:
        match entry:
            case [list() as place, keys]:
                state = _put(state, place, keys, key)
            case _:
                raise CheckpointError(_misfit(key, f"{entry!r:.80} is no [place, keys] pair"))
    return state


def _put(value: object, place: list[Any], keys: object, key: str) -> object:
    """``value`` with the dict at ``place`` rebuilt with its keys in the order ``keys``."""
    if not place:
        if not (isinstance(value, dict) and isinstance(keys, list) and _same_keys(keys, value)):
            raise CheckpointError(_misfit(key, f"{keys!r:.80} are not the keys it holds there"))
        return {name: value[name] for name in keys}
    step, rest = place[0], place[1:]
    in_dict = type(value) is dict and type(step) is str and step in value
    in_list = type(value) is list and type(step) is int and 0 <= step < len(value)
    if not (in_dict or in_list):
        raise CheckpointError(_misfit(key, f"its place {place!r:.80} is not in the state"))
    value[step] = _put(value[step], rest, keys, key)  # type: ignore[index]
    return value


def _same_keys(keys: list[Any], value: dict[str, Any]) -> bool:
    """Whether ``keys`` are the keys of ``value``, each once, in any order."""
    return all(type(name) is str for name in keys) and sorted(keys) == sorted(value)


def _misfit(key: str, why: str) -> str:
    return (
        f"the checkpoint's {key}{ORDER_SUFFIX} does not fit its {key} state ({why}): restore "
        "the checkpoint from a backup or start a new run directory"
    )
