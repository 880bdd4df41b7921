"""The bytes of ``metrics.json``: the collector's document, and what the run's lost files say.

``Recorder.write_metrics`` writes them at each checkpoint and at the seal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import orjson

from .._support.text import valid_payload

__all__ = ["metrics_content"]

_OPTS: Final = orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2


def metrics_content(
    document: dict[str, Any],
    *,
    status: str | None,
    lost: Mapping[str, tuple[int, str]],
    states_written: int,
) -> bytes:
    """``metrics.json`` of ``document``, saying which contract files were lost where.

    ``status`` is the session's: said once the events sink died, since no event can.
    ``lost`` maps a sink to the first line it lost and its error; ``states_written``
    counts the snapshots the file holds, said when the events or the snapshots were lost
    (they no longer imply it).
    """
    if status is not None and "events" in lost:
        document["status"] = status
    for name, (line, error) in lost.items():
        document[f"{name}_sink_failed_at"], document[f"{name}_sink_error"] = line, error
    if "events" in lost or "states" in lost:  # not what the events imply
        document["state_snapshots"] = states_written
    try:
        return orjson.dumps(document, option=_OPTS) + b"\n"
    except orjson.JSONEncodeError:  # a sink's error with a lone surrogate, say
        return orjson.dumps(valid_payload(document), option=_OPTS) + b"\n"
