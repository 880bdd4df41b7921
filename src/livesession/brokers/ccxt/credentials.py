"""What holds an exchange's revealed credentials refuses to be pickled.

A ``Secret`` refuses pickling: its value would go wherever the pickle goes. ccxt needs the
values themselves, so the exchange it builds holds them in plain text, and the broker holds
that exchange: ``pickle.dumps(broker)`` carried the API key and secret, though docs/ccxt.md
says they are revealed only to ccxt. Both refuse, with a ``TypeError`` naming the object
(and ``copy`` with it: a copy would share, or clone, the exchange and its keys).
"""

from __future__ import annotations

from typing import Any, NoReturn, SupportsIndex

__all__ = ["HoldsCredentials", "holding_credentials"]


class HoldsCredentials:
    """Mixin: ``pickle.dumps`` (and ``copy``) of the object raise ``TypeError``."""

    __slots__ = ()

    _holder: str = ""
    """What the object is, in the message (default: its class's name)."""

    def __reduce_ex__(self, protocol: SupportsIndex) -> NoReturn:
        raise TypeError(
            f"this {self._holder or type(self).__name__} cannot be pickled or copied: it "
            "holds the exchange's API credentials (build another with make_ccxt_broker)"
        )

    def __reduce__(self) -> NoReturn:
        self.__reduce_ex__(0)


def holding_credentials(exchange_class: type[Any]) -> type[Any]:
    """``exchange_class`` (a ccxt exchange) as a subclass of the same name that refuses pickling."""
    name = exchange_class.__name__
    return type(
        name,
        (HoldsCredentials, exchange_class),
        {"__module__": exchange_class.__module__, "_holder": f"ccxt {name} exchange"},
    )
