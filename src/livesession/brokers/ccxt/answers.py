"""A venue's answer that is not JSON is no answer: ccxt's ``BadResponse``, a failed call.

ccxt's ``fetch`` hands back the body's text when it cannot parse it (an HTTP 200 cut off
mid-way, an HTML page from a proxy in front of the venue), and its parsers then take that
text for the answer: a list of open orders raised ``AttributeError`` out of the session, a
trade listing became one trade without an id per character of the body (the run FAILED
``BROKER_REPORT_INVALID``), the markets none at all (``SYMBOL_NOT_LISTED``), a balance an
account holding nothing. Every exchange the broker builds refuses such a body instead, as
``BadResponse``, which the error taxonomy classifies as any failed call (``errors``): a
read is ``Transient``, asked again; a submit ``OutcomeUnknown``, looked up.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from ..._support.optional import import_optional

__all__ = ["json_answers_only"]


def json_answers_only(exchange_class: type[Any]) -> type[Any]:
    """``exchange_class`` (a ccxt exchange), its ``fetch`` refusing a body that is not JSON.

    A subclass of the same name, whose ``fetch`` raises ccxt's ``BadResponse`` there.
    """
    parent_fetch = exchange_class.fetch

    def fetch(
        self: Any, url: str, method: str = "GET", headers: Any = None, body: Any = None
    ) -> Any:
        answer = parent_fetch(self, url, method, headers, body)
        if isinstance(answer, (str, bytes)):
            ccxt = import_optional("ccxt", "ccxt")
            # The path only: the query of a signed request carries its signature.
            raise ccxt.BadResponse(
                f"{self.id} answered {method} {urlsplit(url).path} with a body that is not "
                "JSON (cut off, or another format)"
            )
        return answer

    return type(
        exchange_class.__name__,
        (exchange_class,),
        {"__module__": exchange_class.__module__, "fetch": fetch},
    )
