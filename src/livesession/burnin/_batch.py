"""What ``run_burnin`` refuses before it judges a batch of runs: a verdict that would lie.

A batch's verdict stands on its sessions, each counted once, and on its reports, one per
session. The same run directory given twice (``runs/a runs/a/``, a symlink) or a copy of
a run (its audit head the same: one session, whatever the directory) counted as several
sessions. With ``--out DIR`` each report is named after its run id
(``DIR/<run_id>-burnin.md``): two runs of one run id (a config with a fixed ``run_id`` run
into two out directories) wrote one file twice, the last over the first, so a PASS could
stand for a batch that failed. Such a batch is refused before anything is judged or written.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Final, TypeVar

import orjson

from .._artifacts import names
from .._artifacts.provenance import audit_head
from .._artifacts.runread import iter_records, read_json_object
from .._domain.config import UNRECORDED_KEYS
from .._exceptions import UsageError
from .._support.provenance import FILES, VERSIONS, imported
from .._support.text import valid_payload

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "batch_notes",
    "labels",
    "refuse_duplicates",
    "report_paths",
    "run_id_of",
    "setting_differences",
]

_SHOWN: Final = 8
"""How many differing config keys the note names."""
_K = TypeVar("_K")


def refuse_duplicates(run_dirs: list[Path]) -> None:
    """Refuse a run directory given twice, or two copies of one session (one audit head).

    Raises:
        UsageError: naming both paths, and the audit head the copies share.
    """
    places: dict[tuple[int, int], int] = {}
    heads: dict[str, int] = {}
    for index, run_dir in enumerate(run_dirs):
        found = run_dir.stat()
        _refuse_twice(
            places,
            (found.st_dev, found.st_ino),
            run_dirs,
            index,
            "are one run directory: a session counts once in a burn-in, so give it once; "
            "nothing was written",
        )
        head = audit_head(run_dir)
        if head is None:  # an empty audit log: no session to count twice (verify says why)
            continue
        _refuse_twice(
            heads,
            head,
            run_dirs,
            index,
            f"hold one session (the same audit log, audit head {head[:12]}...: a copy, or one "
            "config and seed run again): a session counts once in a burn-in, so judge one of "
            "them; nothing was written",
        )


def _refuse_twice(
    first: dict[_K, int], key: _K, run_dirs: list[Path], index: int, why: str
) -> None:
    """Note that ``run_dirs[index]`` has ``key``; refuse it when an earlier one had it too.

    ``first`` holds the index of the first run directory of each key; the error reads
    ``"<earlier run directory> and <this one> <why>"``.

    Raises:
        UsageError: an earlier run directory has ``key``.
    """
    other = first.setdefault(key, index)
    if other != index:
        raise UsageError(f"{run_dirs[other]} and {run_dirs[index]} {why}")


def run_id_of(run_dir: Path) -> str:
    """The run id the run's events carry (the first event's), else the directory's name.

    ``evaluate_run`` names the session so; read here from the first event alone.
    """
    first = next(iter_records(run_dir / names.EVENTS), None)
    run_id = run_dir.name if first is None else first.get("run_id")
    return str(valid_payload(run_id))


def report_paths(
    run_dirs: list[Path], run_ids: list[str], out_dir: Path | None
) -> list[tuple[Path, Path]]:
    """Where each run's reports go: ``(burnin.json, burnin.md)``, one pair per run.

    Without ``out_dir`` they go into each run directory; with it, ``<run_id>-burnin.*``.

    Raises:
        UsageError: two runs would write the same report, or a run id names no file.
    """
    pairs: list[tuple[Path, Path]] = []
    first_of: dict[Path, int] = {}
    for index, (run_dir, run_id) in enumerate(zip(run_dirs, run_ids, strict=True)):
        target = out_dir or run_dir
        stem = names.BURNIN if out_dir is None else f"{run_id}-{names.BURNIN}"
        if out_dir is not None and not _plain_name(stem):
            raise UsageError(
                f"{run_dir}: its run id {run_id!r} cannot name a report in --out {out_dir} "
                "(it is no plain file name): judge it without --out; nothing was written"
            )
        md = target / f"{stem}.md"
        _refuse_twice(
            first_of,
            md,
            run_dirs,
            index,
            f"are both run {run_id}: both reports would be {md} (the last over the first): "
            "judge them in separate calls with an --out DIR each, or without --out (each "
            "report then goes into its run directory); nothing was written",
        )
        pairs.append((target / f"{stem}.json", md))
    return pairs


def _plain_name(name: str) -> bool:
    """Whether ``name`` is one file's name, no path: ``../x`` would write outside ``--out``."""
    seps = {os.sep, os.altsep} - {None}
    return not name.startswith(".") and not any(sep in name for sep in seps if sep)


def batch_notes(run_dirs: list[Path], named: list[str]) -> list[str]:
    """The batch's notes on its runs' configs ("" where one says nothing), in their order.

    Each run's ``config.json`` is read and flattened once, for all three.
    """
    configs = [read_json_object(d / names.CONFIG) for d in run_dirs]
    flat = [_flat(_compared(config)) for config in configs]
    keys = sorted({key for config in flat for key in config})
    return [
        *code_differences(configs, named),
        config_differences(flat, keys),
        setting_differences(flat, keys, named),
    ]


def config_differences(configs: list[dict[str, Any]], keys: list[str]) -> str:
    """A note when the runs are of different configs, naming the keys that differ ("").

    ``configs`` are the runs' ``config.json`` flattened (nested tables as
    ``risk.daily_loss_pct``; ``batch_notes``), ``keys`` every key any of them has. The
    run id is each session's own name, and what ``recorded_sha256`` leaves out never
    changes what a run records: neither makes a config another. Each report carries the
    run's audited config hash (``config_hash``), which covers the run id too.
    """
    differ = [key for key in keys if len({_json(c.get(key)) for c in configs}) > 1]
    if not differ:
        return ""
    count = len({_json({k: c.get(k) for k in keys}) for c in configs})
    more = f" and {len(differ) - _SHOWN} more" if len(differ) > _SHOWN else ""
    return (
        f"the runs are of {count} different configs: they differ in "
        f"{', '.join(differ[:_SHOWN])}{more} (config.json; each report has the run's "
        "config hash)"
    )


def code_differences(configs: list[dict[str, Any]], run_ids: list[str]) -> list[str]:
    """Notes naming which runs ran which strategy, and which ran which code of a plug-in.

    ``config_differences`` says that ``strategy_id`` or ``sources.strategy.sha256`` differ,
    among the other keys, but not which runs: a burn-in over a week in which the strategy
    was fixed mid-week, or with another desk's run mixed in, must say which session ran what
    (``momo (paper-day1, paper-day2), breakout (other-day1)``). Empty when all agree.
    """
    said = [str(c.get("strategy_id")) for c in configs]
    notes = []
    if len(set(said)) > 1:
        notes.append(
            f"the runs are of {len(set(said))} strategies: {_grouped(said, run_ids)}: a "
            "burn-in judges one strategy's sessions"
        )
    roles = sorted({role for c in configs for role in _sources(c)})
    for role in roles:
        codes = [_digest(_sources(c).get(role)) for c in configs]
        if len(set(codes)) > 1:  # by SHA-256: the file's path follows the desk's machine
            shown = [_code_said(code) for code in codes]
            notes.append(
                f"the {role}'s code differs between the runs: {_grouped(shown, run_ids)} "
                "(each report names its run's code)"
            )
            continue
        if apart := _imported_apart([_sources(c).get(role) for c in configs]):
            notes.append(  # the same file: another helper module or package
                f"what the {role}'s code imports differs between the runs: "
                f"{_grouped(apart, run_ids)} (config.json's sources)"
            )
    return notes


_DATA_KEYS: Final = frozenset({"feed", "feed_bytes", "feed_sha256", "start_time"})
"""What names a day's data: each report names its file and SHA-256 (a paper week's differ)."""
_SETTINGS_SHOWN: Final = 4
"""How many differing settings the note names with their values and runs."""


def setting_differences(configs: list[dict[str, Any]], keys: list[str], run_ids: list[str]) -> str:
    """A note naming, for each setting that differs, which runs had which value ("").

    ``config_differences`` counts a paper week's days as that many configs (each reads its
    own day's file) and names the keys: a committee could not tell that one day ran a daily-
    loss cap of 0.0001 where the others ran 0.01. The data (named in each report), the code
    and the strategy (``code_differences``) are left to their own lines.
    """
    apart = {*_DATA_KEYS, "strategy_id"}
    differ = [
        key
        for key in keys
        if key not in apart
        and not key.startswith("sources.")
        and len({_json(c.get(key)) for c in configs}) > 1
    ]
    if not differ:
        return ""
    said = [
        f"{key} is {_grouped([_value(c.get(key)) for c in configs], run_ids)}"
        for key in differ[:_SETTINGS_SHOWN]
    ]
    more = len(differ) - _SETTINGS_SHOWN
    return f"the runs' settings differ: {'; '.join(said)}" + (
        f"; and {more} more setting(s) (config.json)" if more > 0 else ""
    )


def _value(value: object) -> str:
    """A setting's value as ``config.json`` writes it (``"0.0001"``, ``5``), 40 characters."""
    text = "not set" if value is None else _json(value).decode()
    return text if len(text) <= 40 else f"{text[:37]}..."  # noqa: PLR2004 - the note's width


def _sources(config: dict[str, Any]) -> dict[str, Any]:
    """``config.json``'s ``sources``: each plug-in's code, by role ({} for none)."""
    sources = config.get("sources")
    return sources if isinstance(sources, dict) else {}


def _imported_apart(records: list[object]) -> list[str]:
    """Per run, the recorded modules and packages that differ between them ([]: none do).

    ``npdesk/helper.py (SHA-256 88e29b4e3311...)`` for one, ``not recorded`` for a run that
    lacks what another recorded.
    """
    said = [
        dict(imported(record.get(FILES), record.get(VERSIONS))) if isinstance(record, dict) else {}
        for record in records
    ]
    apart = sorted(
        {key for one in said for key in one}
        - {key for key in said[0] if all(one.get(key) == said[0][key] for one in said)}
    )
    if not apart:
        return []
    return [", ".join(f"{key} {one.get(key, 'not recorded')}" for key in apart) for one in said]


def _digest(code: object) -> str | None:
    """A plug-in's source SHA-256 as ``config.json``'s ``sources`` records it (None: none)."""
    digest = code.get("sha256") if isinstance(code, dict) else None
    return digest if isinstance(digest, str) else None


def _code_said(digest: str | None) -> str:
    """``source SHA-256 0c02610cd665...``, or that the run had no such plug-in's source."""
    return "no source recorded" if digest is None else f"source SHA-256 {digest[:12]}..."


def labels(run_dirs: list[Path], run_ids: list[str]) -> list[str]:
    """How the notes name each run: its run id, or its directory where two share the id."""
    shared = {run_id for run_id in run_ids if run_ids.count(run_id) > 1}
    return [
        str(run_dir) if run_id in shared else run_id
        for run_dir, run_id in zip(run_dirs, run_ids, strict=True)
    ]


def _grouped(values: list[str], named: list[str]) -> str:
    """``a (day1, day2), b (day3)``: each value, in first-seen order, with its runs."""
    runs: dict[str, list[str]] = {}
    for value, run_id in zip(values, named, strict=True):
        runs.setdefault(value, []).append(run_id)
    return ", ".join(f"{value} ({', '.join(ids)})" for value, ids in runs.items())


def _compared(config: dict[str, Any]) -> dict[str, Any]:
    """What of a ``config.json`` makes a config another (each plug-in's code by its SHA-256).

    Not the run id, nor the keys ``recorded_sha256`` leaves out. ``sources`` holds the
    module's file path too, which follows ``base_dir`` (the same package on another
    desk's machine): the code is the same when its SHA-256 is.
    """
    apart = {"run_id", "sources", *UNRECORDED_KEYS}
    kept = {key: value for key, value in config.items() if key not in apart}
    sources = config.get("sources")
    if isinstance(sources, dict):
        kept["sources"] = {
            role: {"sha256": record.get("sha256")}
            | {key: record[key] for key in (FILES, VERSIONS) if key in record}
            if isinstance(record, dict)
            else record
            for role, record in sources.items()
        }
    return kept


def _flat(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"risk": {"daily_loss_pct": x}}`` as ``{"risk.daily_loss_pct": x}``."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat |= _flat(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _json(value: object) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
