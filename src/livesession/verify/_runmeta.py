"""``run.json`` against what the run's audited records say of the same things.

``run.json`` is outside the audit chain: an edit to it changes no digest. Some of what it
holds the run records elsewhere, in the chain or in the config ``SESSION_STARTED``'s
``config_sha256`` pins (docs/artifacts.md), and an edit shows where the two disagree:

- ``version``: the livesession release ``SESSION_STARTED`` (and ``C2_DRYRUN_START``)
  records; ``resume`` continues a run of its own release only, by this field.
- ``lease``: a run that took the (account, strategy) lease records its ``session_lease``
  ``PREFLIGHT_CHECK``; one that passed its preflight without it took none.
- ``data``: the data file's ``sha256``, ``bytes`` and ``feed``, which the audited config
  holds as ``feed_sha256``, ``feed_bytes`` and ``feed``; ``resume`` reads the file by them.

``config_hash`` is held to ``config.json`` (``_kept``), and ``format`` read there too; a
``run.json`` of a format this release does not read is said once, as that. Runs recorded
by a release before 0.2 (``livesession-run/1``) are read as they are. ``evidence`` and
``burnin`` hold ``version`` to the audited record in their own words
(``run_json_changed``): within ``version_said_elsewhere`` it is not said twice.
Read independently of the code that writes the run: only the files and their contract.
"""

from __future__ import annotations

import contextlib
import hashlib
from typing import TYPE_CHECKING, Any, Final

import orjson

from .._artifacts import names
from .._artifacts.runread import read_json_object
from .._support.flags import ContextFlag
from .._support.text import one_line
from ._config import UNRECORDED

if TYPE_CHECKING:
    from pathlib import Path

    from ._result import Violations

__all__ = ["RunRecords", "check_run_meta", "version_said_elsewhere"]

_CHANGED: Final = "run.json was changed after the run; keep the run as it is and report it"
_DATA: Final = (("sha256", "feed_sha256"), ("bytes", "feed_bytes"), ("feed", "feed"))
"""``run.json``'s ``data`` keys and the audited config's keys that hold the same."""
_SHOWN: Final = 40
"""Longer text (a digest) is shown by its first 12 characters."""
_BEFORE_0_2: Final = ("0.0.", "0.1.")
"""Releases whose ``run.json`` (``livesession-run/1``) is read as it is."""
_VERSION_ELSEWHERE: Final = ContextFlag("livesession_version_said")


def version_said_elsewhere() -> contextlib.AbstractContextManager[None]:
    """Within the block, ``run.json``'s ``version`` is left to the caller, who says it."""
    return _VERSION_ELSEWHERE.within()


class RunRecords:
    """What the events record that ``run.json`` repeats, gathered as they stream by."""

    def __init__(self) -> None:
        self.started: dict[str, Any] | None = None
        """``SESSION_STARTED``'s payload (None: the first event is not one)."""
        self.lease_checked = False
        """A ``session_lease`` ``PREFLIGHT_CHECK`` is recorded: the run took the lease."""
        self.preflight_passed = False
        """The run went to ``PREFLIGHT_OK``: every check it had was recorded."""

    def note(self, kind: str, payload: dict[str, Any]) -> None:
        """Keep what ``kind``'s ``payload`` says of ``run.json``'s fields."""
        if kind == "SESSION_STARTED" and self.started is None:
            self.started = payload
        elif kind == "PREFLIGHT_CHECK" and payload.get("check") == "session_lease":
            self.lease_checked = True
        elif kind == "STATE_CHANGED" and payload.get("to_state") == "PREFLIGHT_OK":
            self.preflight_passed = True


def check_run_meta(report: Violations, run_dir: Path | None, records: RunRecords) -> None:
    """Report each ``run.json`` field that disagrees with ``records``, naming the field."""
    if run_dir is None or records.started is None:
        return
    if str(records.started.get("version")).startswith(_BEFORE_0_2):
        return
    meta = read_json_object(run_dir / names.RUN_META)
    if not meta or meta.get("format") not in names.RUN_FORMATS_READ:
        return  # none (sinks wrote the run), not an object or of a format: _kept says so
    said = _disagreements(meta, records, _audited_config(run_dir, records.started))
    for field, why in said.items():
        report.add(names.RUN_META, 0, f"{field} {why}: {_CHANGED}")


def _disagreements(
    meta: dict[str, Any], records: RunRecords, config: dict[str, Any] | None
) -> dict[str, str]:
    """Each field of ``meta`` that disagrees with the audited records, with how."""
    started = records.started or {}
    found: dict[str, str] = {}
    wrote = started.get("version")
    if isinstance(wrote, str) and meta.get("version") != wrote and not _VERSION_ELSEWHERE:
        found["version"] = (
            f"{_shown(meta, 'version')}, but the run's audited record (SESSION_STARTED, "
            f"C2_DRYRUN_START) says livesession {one_line(wrote)} wrote it"
        )
    lease = meta.get("lease")
    if records.lease_checked and lease is not True:
        found["lease"] = (
            f"{_shown(meta, 'lease')}, but the run's events record its session_lease "
            "preflight check, so it took the lease"
        )
    elif records.preflight_passed and lease is True and not records.lease_checked:
        found["lease"] = (
            "is true, but the run passed its preflight with no session_lease check in its "
            "events, so it took none"
        )
    if config is not None:
        found.update(_data_disagreements(meta.get("data"), config))
    return found


def _data_disagreements(data: object, config: dict[str, Any]) -> dict[str, str]:
    """``run.json``'s ``data`` against the audited config's data file (its ``feed_sha256``)."""
    audited = "the audited config (config_sha256)"
    if not isinstance(config.get("feed_sha256"), str):
        return {} if data is None else {"data": f"names a data file, but {audited} reads none"}
    if not isinstance(data, dict):
        what = "missing" if data is None else "not an object"
        return {"data": f"is {what}, but {audited} reads a data file"}
    return {
        f"data.{key}": (f"{_shown(data, key)}, but {audited} has {held} {_value(config[held])}")
        for key, held in _DATA
        if held in config and data.get(key) != config[held]
    }


def _audited_config(run_dir: Path, started: dict[str, Any]) -> dict[str, Any] | None:
    """``config.json`` when it is the config ``SESSION_STARTED`` pins, else None.

    Another config is ``check_config``'s violation: nothing is held to it here.
    """
    recorded = started.get("config_sha256")
    config = read_json_object(run_dir / names.CONFIG)
    if not isinstance(recorded, str) or not config:
        return None
    kept = {key: value for key, value in config.items() if key not in UNRECORDED}
    try:
        found = hashlib.sha256(orjson.dumps(kept, option=orjson.OPT_SORT_KEYS)).hexdigest()
    except (TypeError, orjson.JSONEncodeError):
        return None
    return config if found == recorded else None


def _shown(held: dict[str, Any], key: str) -> str:
    """``held[key]`` as the file has it, or that it is missing."""
    return f"is {_value(held[key])}" if key in held else "is missing"


def _value(value: object) -> str:
    """``value`` as JSON, a digest cut to its first 12 digits (as verify shows digests)."""
    if isinstance(value, str) and len(value) > _SHOWN:
        return f'"{one_line(value[:12])}..."'
    try:
        return one_line(orjson.dumps(value).decode())
    except (TypeError, orjson.JSONEncodeError):
        return one_line(repr(value))
