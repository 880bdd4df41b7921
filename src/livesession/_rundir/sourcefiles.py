"""Where a run's plug-in code is looked for again, and what a refusal says when it is not.

``status`` (``check_source_files``) and ``resume`` (``refuse_unfound_sources``) look for each
referenced module where a resume imports it from: the run's ``base_dir``, then the
installed packages. A run made in code without a ``base_dir`` (a sweep's script building
its configs, its strategy package beside it) found the package on the script's own
``sys.path``, which neither looks at: the refusal then says that the recorded file is there
unchanged, and where the run can be continued from.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._domain.config import DryrunConfig
from .._exceptions import LiveSessionError, PluginError
from .._support.fsutil import file_digest
from .._support.provenance import import_root
from .._support.references import locate
from .supplied import check_sources

__all__ = ["check_source_files", "refuse_unfound_sources", "unfound_said"]


def _referenced(record: object) -> bool:
    """Whether ``record`` names a module to look for (not an object given in-process)."""
    return isinstance(record, dict) and "object" not in record and bool(record.get("module"))


def _base(cfg: DryrunConfig) -> Path | None:
    return None if cfg.base_dir is None else Path(cfg.base_dir)


def check_source_files(cfg: DryrunConfig, sources: dict[str, Any]) -> None:
    """Refuse, as ``resume`` would (``check_sources``), a plug-in whose source changed.

    Nothing is imported (``status`` runs no code of the run's): each module's file is found
    where ``resume`` would import it from (the run's ``base_dir``, then the installed
    packages), so a run copied to another machine, its package installed elsewhere, is
    judged by the code ``resume`` would run, not by the path the run recorded. A plug-in
    given as an object has no module to look up here.
    """
    base = _base(cfg)
    current: dict[str, Any] = {}
    for role, record in sources.items():
        if not _referenced(record):
            current[role] = record
            continue
        file = locate(str(record["module"]), base)
        if file is None:
            raise PluginError(_unfound(role, record, base))
        try:
            digest = file_digest(Path(file))[0]
        except OSError as exc:
            raise PluginError(
                f"the source of {role} {record.get('ref')!r} cannot be read ({file}: "
                f"{exc.strerror}): restore the code the run started with"
            ) from None
        current[role] = {**record, "file": file, "sha256": digest}
    check_sources(sources, current, run=cfg.run_id)


def refuse_unfound_sources(
    cfg: DryrunConfig,
    sources: Mapping[str, Any],
    given: Mapping[str, object],
    *,
    sealed: bool = False,
) -> None:
    """Refuse, before a resume or a re-run imports it, a module it cannot find left where it was.

    A module whose file is still where the run recorded it, unchanged, is refused saying so
    (the import's own refusal would tell the caller to pass ``--config``, which neither a
    resume nor ``evidence`` takes). A ``sealed`` run (re-run by ``evidence``, ``burnin
    --drill``) is not told how to continue it, but how to name the directory to the command.

    A role given again by the caller (``strategy=``) is the caller's to find.
    """
    base = _base(cfg)
    for role, record in sources.items():
        if given.get(role) is not None or not _referenced(record):
            continue
        if locate(str(record["module"]), base) is None and _left_at(record) is not None:
            raise PluginError(_unfound(role, record, base, sealed=sealed))


def unfound_said(run_dir: Path) -> str:
    """What ``refuse_unfound_sources`` says of the run in ``run_dir``, or "".

    For the words of a signal to a crashed run (``ack``, ``kill``, ``stop``), which said to
    continue it with ``livesession resume`` where that refuses it. "" too for a run whose
    config or record cannot be read: the signal's own words stand then.
    """
    from .layout import read_run_config  # noqa: PLC0415 - layout imports seal

    try:
        cfg, meta = read_run_config(run_dir)  # the sources as resume reads them
        refuse_unfound_sources(cfg, meta.get("sources") or {}, {})
    except PluginError as exc:
        return str(exc)
    except (LiveSessionError, OSError):
        return ""
    return ""


def _left_at(record: Mapping[str, Any]) -> Path | None:
    """The directory the recorded file's package imports from, if the file is unchanged.

    None when the file is not where the run recorded it, or its SHA-256 differs.
    """
    module, recorded = str(record["module"]), record.get("file")
    if not isinstance(recorded, str):
        return None
    file = Path(recorded)
    root = import_root(module, file)
    if not file.is_absolute() or root is None:
        return None
    try:
        same = file_digest(file)[0] == record.get("sha256")
    except OSError:
        return None
    return root if same and locate(module, root) == recorded else None


def _unfound(
    role: str, record: Mapping[str, Any], base: Path | None, *, sealed: bool = False
) -> str:
    """What a refusal says of a module found neither in ``base`` nor the installed packages.

    ``sealed``: the run is re-run, not continued (``refuse_unfound_sources``).
    """
    module, ref = str(record["module"]), record.get("ref")
    where = f"{base}, then the installed packages" if base else "the installed packages"
    head = f"the source of {role} {ref!r} cannot be found: no module {module} in {where}"
    root = _left_at(record)
    if root is None:
        return (
            f"{head} (the run recorded {record.get('file')}): restore the code the run "
            "started with, or install it"
        )
    top = module.split(".", maxsplit=1)[0]
    searched = "a re-run" if sealed else "a resume"
    then = (
        f"name it to the command with `PYTHONPATH={root}` before it, from another directory"
        if sealed
        else f"continue it with resume_run from a Python program that imports {top} (a "
        f"script in {root}), or with `PYTHONPATH={root} livesession resume` from another "
        "directory"
    )
    return (
        f"{head}; the run recorded {record.get('file')}, which is there unchanged, but "
        f"{root} is not searched (the program that made the run imported {top} from its own "
        f"sys.path; {searched} looks in the run's base_dir, then the installed packages): "
        f"{then}; a run made in code finds it again with base_dir={str(root)!r} in its config"
    )
