"""A CCXT broker that only ever talks to a verified exchange sandbox (testnet).

``make_ccxt_broker("binance", runtime_config=...)`` (``factory``) builds the exchange,
switches it to its sandbox and verifies the result before any request is made; the same
gate (``sandbox``) runs again before every call, so a broker whose URLs were changed after
construction refuses to send. Every failure of a call is classified (``errors``) into the
session's taxonomy: ``Transient``, ``OutcomeUnknown`` or ``Rejected``. ccxt's values become
livesession's model at the boundary (``convert``); ``CcxtSandboxBroker`` (``broker``) is the
adapter, and ``ccxt_preflight_checks`` (``preflight``) asks the venue before a session starts.

ccxt is imported only inside the functions that need it; without it they raise
``MissingExtra`` naming the ``ccxt`` extra, and this package still imports.
"""

from __future__ import annotations

from .broker import CcxtSandboxBroker
from .errors import classify
from .factory import make_ccxt_broker
from .preflight import ccxt_preflight_checks
from .sandbox import SANDBOX_EXCHANGES

__all__ = [
    "SANDBOX_EXCHANGES",
    "CcxtSandboxBroker",
    "ccxt_preflight_checks",
    "classify",
    "make_ccxt_broker",
]
