"""Plug-ins by reference: ``package.module:callable``, resolved, called and fingerprinted.

A reference names a callable in a module. It resolves against a base directory first (the
config file's directory) and then the installed packages, never against the current
directory by accident: while the module is imported, the importing thread looks in the base
directory first and then ``sys.path`` without the current directory (``''``, ``.`` or its
absolute path), but for the directory of the script Python runs (``script_directory``);
``sys.path`` itself, the process's, is left alone (``searchpath``).
A module of Python's standard library (``os:system``, ``subprocess:getoutput``) is no
plug-in and is refused before anything is imported or called, unless the base directory
holds a module of that name. Any other callable is called as the config says: a config is
code, trusted as the code it names (docs/plugins.md).

What ran is part of the evidence: ``source_record`` keeps the reference and the SHA-256 of
the referenced module's source file; ``object_record`` keeps, for an object handed in
in-process, its class and the SHA-256 of the file that defines the class.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import inspect
import os
import re
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from .._exceptions import PluginError
from .anchor import paths_are_as_given
from .oserrors import working_dir
from .pluginwords import a_, lookup_failure, not_a, protocol_members, raised, uncallable
from .provenance import imported_with
from .reloaded import stale
from .searchpath import script_directory, searching
from .signals import STOPS_RAISED
from .text import exception_text

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from types import ModuleType

__all__ = [  # the wording (``pluginwords``) too, as the plug-in modules import it from here
    "IN_PROCESS",
    "a_",
    "call_reference",
    "is_reference",
    "locate",
    "lookup_failure",
    "not_a",
    "object_record",
    "protocol_members",
    "raised",
    "resolve",
    "uncallable",
]

IN_PROCESS: Final = "object supplied in-process"
_PATH_LOCK: Final = threading.Lock()
"""One reference's import at a time per process."""
_IMPORTED: Final[dict[str, tuple[object, str | None]]] = {}
"""Each referenced module's spec, and its file's SHA-256, as a reference first found it.

A module is imported once per process: a file edited since runs the code it held then,
which the SHA-256 of the file now does not name (``resolve`` refuses it). A module
reloaded (``importlib.reload``: a new spec) is taken as it is now."""
_NAME: Final = r"[A-Za-z_][A-Za-z0-9_]*"
_REFERENCE: Final = re.compile(rf"^{_NAME}(?:\.{_NAME})*:{_NAME}(?:\.{_NAME})*$")


_BUILT_IN: Final = ("csv", "parquet", "ccxt")
"""Prefixes of the built-in specs (``csv:<path>``, ``parquet:<path>``, ``ccxt:<exchange>``),
never references."""


def is_reference(text: object) -> bool:
    """Whether ``text`` has the form ``package.module:callable`` (built-in specs aside)."""
    return (
        isinstance(text, str)
        and _REFERENCE.match(text) is not None
        and text.partition(":")[0] not in _BUILT_IN
    )


def _sha256(path: str | None) -> str | None:
    if not path:
        return None
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def _search_path(base_dir: Path | None) -> list[str]:
    """``sys.path`` without the current directory, with ``base_dir`` in front.

    The directory of the script Python runs stays, the current directory or not: the
    application's own imports find its modules there wherever it was started from.
    A working directory removed under the process: every relative entry goes (there is
    nothing they could lead to), the absolute ones stay.
    """
    cwd = working_dir()
    if cwd is None:
        kept = [p for p in sys.path if Path(p).is_absolute()]
    else:
        here, script = os.path.realpath(cwd), script_directory()
        real = {p: os.path.realpath(p) for p in sys.path if p not in ("", ".")}
        kept = [p for p, where in real.items() if where != here or where == script]
    return ([str(base_dir)] if base_dir is not None else []) + kept


def locate(module_name: str, base_dir: Path | None) -> str | None:
    """The file importing ``module_name`` would load, found as ``resolve`` looks, unimported.

    ``base_dir`` first, then the installed packages (never the current directory); None
    when no file there holds it. Nothing is imported: a package's ``__init__`` does not run.
    """
    top, *rest = module_name.split(".")
    spec = importlib.machinery.PathFinder.find_spec(top, _search_path(base_dir))
    if spec is None:
        spec = _meta_path_spec(top)
    for part in rest:
        if spec is None or not spec.submodule_search_locations:
            return None
        spec = importlib.machinery.PathFinder.find_spec(part, list(spec.submodule_search_locations))
    return spec.origin if spec is not None and spec.has_location else None


def _meta_path_spec(top: str) -> importlib.machinery.ModuleSpec | None:
    """``top``'s spec from the import system's other finders, as an import would find it.

    ``pip install -e`` (setuptools' editable install) installs a package by a finder it
    appends to ``sys.meta_path``, not by a ``sys.path`` entry: the path alone would call a
    package an import finds missing. A finder's ``find_spec`` imports nothing of the
    package; one that raises finds nothing here, as it would fail the import.
    """
    for finder in sys.meta_path:
        find_spec = getattr(finder, "find_spec", None)
        if finder is importlib.machinery.PathFinder or find_spec is None:
            continue  # sys.path's own finder was asked above, without the current directory
        try:
            spec = find_spec(top, None)
        except Exception:  # noqa: BLE001, S112 - a third-party finder's error: not found here
            continue
        if spec is not None:
            return spec  # type: ignore[no-any-return]
    return None


def _import(module_name: str, ref: str, base_dir: Path | None) -> ModuleType:
    top = module_name.partition(".")[0]
    local = (
        importlib.machinery.PathFinder.find_spec(top, [str(base_dir)])
        if base_dir is not None
        else None
    )
    if local is None and top in sys.stdlib_module_names:
        # ``broker = "os:system"`` with ``[broker_params] command = ...`` ran the command
        # before the type check refused what it returned: no plug-in lives there.
        raise PluginError(
            f"cannot use {ref!r}: {top} is Python's standard library, not a plug-in; a "
            "reference names a factory in a package of your own (docs/plugins.md, "
            '"A config is code")'
        )
    with _PATH_LOCK:
        return _import_with_path(module_name, ref, base_dir, local)


def _import_with_path(module_name: str, ref: str, base_dir: Path | None, local: Any) -> ModuleType:
    top = module_name.partition(".")[0]
    try:
        with searching(_search_path(base_dir)):
            importlib.invalidate_caches()
            module = importlib.import_module(module_name)
    except ImportError as exc:
        where = f" (looked in {base_dir}, then the installed packages)" if base_dir else ""
        raise PluginError(
            f"cannot import {ref!r}: {exception_text(exc)}{where}{_cwd_hint(top, exc)}"
        ) from None
    except STOPS_RAISED:
        raise
    except BaseException as exc:  # noqa: BLE001 - the user's module failed importing
        # SystemExit too, and GeneratorExit, MemoryError's kin: each a refusal, never a
        # traceback (only Ctrl-C interrupts)
        raise PluginError(f"importing {ref!r} {raised(exc)}") from None
    if local is not None and local.origin and sys.modules.get(top) is not None:
        loaded = getattr(sys.modules[top], "__file__", None)
        if loaded and os.path.realpath(loaded) != os.path.realpath(local.origin):
            raise PluginError(
                f"cannot import {ref!r} from {base_dir}: this process already imported "
                f"{top!r} from {Path(loaded).parent}"
            )
    return module


def _cwd_hint(top: str, exc: ImportError) -> str:
    """What to do when the package sits in the current directory, which is never searched."""
    cwd = working_dir()
    if (
        cwd is None
        or getattr(exc, "name", None) != top
        or not ((cwd / top).is_dir() or (cwd / f"{top}.py").is_file())
    ):
        return ""
    return (
        f"; {top} is in the current directory, which is never searched{_named_by_env(cwd)}: "
        "name it in a config file beside it (strategy_factory, feed, broker or rails) and pass "
        "--config, or install it (from Python: set the config's base_dir to the directory it "
        "is in)"
    )


def _named_by_env(cwd: Path) -> str:
    """`` (PYTHONPATH's '.' names it, and is left out too)`` when PYTHONPATH names ``cwd``.

    A desk that put its package on the path the usual way (``PYTHONPATH=.``) is told why
    that did not find it, rather than left to wonder at "never searched".
    """
    here = os.path.realpath(cwd)
    for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep):
        if entry and os.path.realpath(entry) == here:
            return f" (PYTHONPATH's {entry!r} names it, and is left out too)"
    return ""


def resolve(ref: str, base_dir: Path | None) -> tuple[Any, dict[str, Any]]:
    """The object ``ref`` names, and its source record (reference, file, SHA-256)."""
    if not is_reference(ref):
        raise PluginError(f"{ref!r} is not a reference of the form package.module:callable")
    module_name, _, attr_path = ref.partition(":")
    target: Any = _import(module_name, ref, base_dir)
    parts = attr_path.split(".")
    for at, part in enumerate(parts):
        try:
            target = getattr(target, part)
        except AttributeError:
            hint = _nearest(part, target, ".".join(parts[:at]))
            raise PluginError(
                f"cannot use {ref!r}: {module_name} has no {attr_path}{hint}"
            ) from None
    module = sys.modules[module_name]
    file = getattr(module, "__file__", None)
    sha256 = _as_imported(module_name, module, file, what=f"cannot use {ref!r}")
    record = {"ref": ref, "module": module_name, "file": file, "sha256": sha256}
    return target, record | imported_with(module_name, file)


def _as_imported(module_name: str, module: object, file: str | None, *, what: str) -> str | None:
    """The SHA-256 of ``module``'s file, refused (``PluginError``) when it changed since.

    Since ``_IMPORTED`` first held it: the run would run the code the module holds and
    record the file's hash now.
    """
    sha256 = _sha256(file)
    now = getattr(module, "__spec__", None)
    spec, imported = _IMPORTED.setdefault(module_name, (now, sha256))
    if spec is not now:  # reloaded since
        _IMPORTED[module_name] = (now, sha256)
    elif imported != sha256:
        raise PluginError(
            f"{what}: {file} changed since this process imported {module_name} "
            f"(SHA-256 {str(imported)[:12]}... then, {str(sha256)[:12]}... now), and a "
            "module is imported once: the run would run the code it held then and record "
            "the file's now; start a new process (or importlib.reload the module) to run "
            "the code as it is, or restore the file"
        )
    return sha256


def _nearest(name: str, owner: object, path: str) -> str:
    """`` (did you mean make?)``: the public name of ``owner`` nearest ``name``, or "".

    ``path`` is where ``owner`` is in the reference (``Desk`` for ``mod:Desk.mkae``).
    """
    import difflib  # noqa: PLC0415 - only on this error path

    try:
        names = [n for n in vars(owner) if not n.startswith("_")]
    except TypeError:  # no __dict__: nothing to offer
        return ""
    close = difflib.get_close_matches(name, sorted(names), n=1)
    return f" (did you mean {path + '.' if path else ''}{close[0]}?)" if close else ""


def call_reference(
    ref: str,
    base_dir: Path | None,
    *,
    what: str,
    kind: type,
    kwargs: Mapping[str, Any],
    offered: Mapping[str, Any] | None = None,
    where: str = "",
    unnamed_refused: Mapping[str, str] | None = None,
    params_said: Mapping[str, str] | None = None,
    check_only: bool = False,
) -> tuple[Any, dict[str, Any]]:
    """Call the factory ``ref`` names with ``kwargs``; its product must be a ``kind``.

    ``check_only``: resolve the factory (its module imported) and check the names of the
    keyword arguments against its signature, as below, but never call it; the product is
    None then. A run refuses a misspelt parameter so before it looks at its run id.

    ``what`` names the plug-in in errors (``strategy_factory``, ``feed``, ``broker``): one
    that cannot be imported or found (``strategy_factory: cannot import 'x:y': ...``)
    begins with ``where`` too, the config file and line that set it (``config file
    desk.toml, line 3: ``), when one did.
    ``offered`` keyword arguments go only to a factory whose signature names them (the
    run's venue journal, for a broker that keeps its state there).
    ``unnamed_refused`` keyword arguments must be named by the factory's signature
    (``**kwargs`` names none): the first that is not is refused with its message, before
    the factory is called. ``params_said`` names each keyword argument of the config's
    params table as the config does (``config file desk.toml, line 6: strategy_params.x``):
    one a factory without ``**kwargs`` has no parameter for (a misspelt ``lokback``) is
    refused naming the parameter nearest it, before the factory is called (Python's
    ``TypeError`` names no file, no line and no parameter meant).

    For the CLI (``paths_as_given``), a module or factory that changes the working
    directory (``os.chdir`` to its own folder, a script's habit) is refused, the directory
    changed back first: the CLI finds the run's files by their paths from where it was
    started, and the run would have been made in one directory and written in another.
    An API call resolved its paths as it began (``anchored``), and the current directory
    is its host's: another thread of it may change it meanwhile, which tells nothing about
    the plug-in, so it is neither put back (undoing the host's ``chdir``) nor blamed.
    """
    started = working_dir() if paths_are_as_given() else None
    try:
        try:
            factory, record = resolve(ref, base_dir)
        except PluginError as exc:
            raise PluginError(f"{where}{what}: {exc}") from None
        for key, message in sorted((unnamed_refused or {}).items()):
            if key not in _named_by(factory, {key: None}):
                raise PluginError(message)
        unaccepted = _unaccepted(factory, params_said or {})
        if unaccepted is not None:
            said, why = unaccepted
            raise PluginError(f"{said} is refused: {what} {ref!r} {why}")
        product = (
            None
            if check_only
            else _built(factory, ref, what=what, kind=kind, kwargs=kwargs, offered=offered)
        )
    finally:
        now = working_dir()
        if started is not None and now != started:
            os.chdir(started)
    if started is not None and now != started:
        raise PluginError(
            f"{what} {ref!r} changed the working directory (os.chdir) from {started} to {now} "
            "as it was imported or built: livesession finds the run's files from the "
            "directory it was started in; open your own files by absolute paths "
            "(Path(__file__).parent / 'model.pkl') instead of changing it"
        )
    return product, record


def _built(
    factory: Any,
    ref: str,
    *,
    what: str,
    kind: type,
    kwargs: Mapping[str, Any],
    offered: Mapping[str, Any] | None,
) -> Any:
    if not callable(factory):
        raise PluginError(f"{what} {ref!r} is not callable")
    if offered:
        kwargs = {**_named_by(factory, offered), **kwargs}
    try:
        product = factory(**kwargs)
    except STOPS_RAISED:
        raise
    except BaseException as exc:  # noqa: BLE001 - the user's factory failed, however
        raise PluginError(f"{what} {ref!r} {raised(exc)}") from None
    failed = lookup_failure(product, protocol_members(kind))
    if failed:
        raise PluginError(
            f"{what} {ref!r} returned {a_(type(product).__name__)}, not {a_(kind.__name__)}: "
            f"{failed} (a __getattr__ or a property must raise AttributeError for a name it "
            "lacks)"
        )
    if not isinstance(product, kind):
        raise PluginError(
            f"{what} {ref!r} returned {not_a(product, kind)} "
            f"(see docs/plugins.md for the methods it needs)"
        )
    wrong = uncallable(product, kind)
    if wrong:
        raise PluginError(f"{what} {ref!r} returned {a_(type(product).__name__)}: {wrong}")
    return product


def _named_by(factory: Callable[..., Any], offered: Mapping[str, Any]) -> dict[str, Any]:
    """The ``offered`` arguments ``factory`` names as parameters (``**kwargs`` names none)."""
    try:
        named = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # a builtin without a signature: offer nothing
        return {}
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {k: v for k, v in offered.items() if k in named and named[k].kind in kinds}


def _unaccepted(factory: Callable[..., Any], said: Mapping[str, str]) -> tuple[str, str] | None:
    """The first keyword of ``said`` that ``factory`` takes no parameter for, and why.

    ``said`` names each keyword as the config does; None when the factory has one for each.

    Only for a signature that can be read and takes no ``**kwargs`` (which takes any name),
    as the call itself sees it: a decorator's wrapper (``functools.wraps``) is not taken for
    the function it wraps, whose parameters it may add to.
    """
    try:
        named = inspect.signature(factory, follow_wrapped=False).parameters
    except (TypeError, ValueError):  # a builtin without a signature: the call will say
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in named.values()):
        return None
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    takes = sorted(name for name, p in named.items() if p.kind in kinds)
    for key, where in said.items():
        if key not in takes:
            import difflib  # noqa: PLC0415 - only on this error path

            close = difflib.get_close_matches(key, takes, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            return where, f"takes no parameter {key}{hint}; it takes {', '.join(takes) or 'none'}"
    return None


def object_record(obj: object, *, named: Any = None) -> dict[str, Any]:
    """What is known of an object handed in in-process: its class (or ``named``) and its file."""
    cls = type(obj) if named is None else named
    module = sys.modules.get(cls.__module__)
    file = getattr(module, "__file__", None)
    name = f"{cls.__module__}.{cls.__qualname__}"
    if file is not None and stale(cls, module):
        raise PluginError(
            f"cannot use a {name}: it is from before {cls.__module__} was reloaded "
            f"(importlib.reload), and differs from the {cls.__qualname__} the module holds now: "
            f"the run would run the code it held then and record {file} as it is now; make "
            f"it again from the reloaded module ({name}), or start a new process"
        )
    return {
        "object": name,
        "file": file,
        "sha256": _as_imported(cls.__module__, module, file, what=f"cannot use a {name}"),
        "supplied": IN_PROCESS,
    }
