"""The JSON schemas of the four artifacts, as validators built once per process.

Two validators per schema: a compiled one (``fastjsonschema``) that gives the verdict, and
``jsonschema``'s, the reference, which only runs on a line the compiled one rejected, to
say why. The schema files are draft 2020-12; the compiled validator gets a draft-07
translation of them with the same verdicts (tests/test_verify_fast.py checks both agree).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import orjson

from .._artifacts import names
from .._exceptions import MissingExtra
from .._support.optional import import_optional

if TYPE_CHECKING:
    from collections.abc import Callable

    import jsonschema

__all__ = ["Schemas"]

_SCHEMA_FOLDER: Final = Path(__file__).parent.parent / "schemas"
_SCHEMA_FILES: Final = {
    names.EVENTS: "events.schema.json",
    names.SNAPSHOTS: "state_snapshots.schema.json",
    names.METRICS: "metrics.schema.json",
    names.AUDIT: "audit.schema.json",
}
_MAX_SCHEMA_ERRORS_PER_LINE: Final = 3
_NO_NEWLINE: Final = {"pattern": "\n"}
_ONE_LINE: Final = "^[^\n]*$"
# An anchored pattern none of whose parts can match a newline: with fastjsonschema's
# reading of ``$`` (end of string, never before a final "\n") it already rejects one.
_NEWLINE_FREE: Final = re.compile(r"\^[^|\\\[]*(?:(?:\\[.\-d]|\[(?!\^)[^\]\\]*\])[^|\\\[]*)*\$")


class Schemas:
    """Validators for the four artifacts, built once per process from the shipped schemas.

    Same verdicts as validating against the schema files as they are, only faster: local
    ``$ref``s are inlined, and an event is checked against the events schema with only
    the ``then`` parts of the ``if``/``then`` branches of its own ``event_type`` (the
    others cannot apply), compiled the first time that event type is seen.
    """

    _instance: Schemas | None = None

    def __init__(self) -> None:
        import fastjsonschema  # noqa: PLC0415 - compiled only when verifying

        self._compile = fastjsonschema.compile
        self._invalid: type[Exception] = fastjsonschema.JsonSchemaException
        self._inlined: dict[str, dict[str, Any]] = {}
        self._fast: dict[str, Callable[[Any], Any]] = {}
        self._fast_events: dict[str, Callable[[Any], Any]] = {}
        self._branches: dict[str, list[dict[str, Any]]] = {}
        self._reference: dict[tuple[str, str | None], jsonschema.protocols.Validator] = {}
        for artifact, file_name in _SCHEMA_FILES.items():
            schema = orjson.loads((_SCHEMA_FOLDER / file_name).read_bytes())
            inlined = _inline_refs(schema, schema.get("$defs", {}))
            self._inlined[artifact] = inlined
            if artifact != names.EVENTS:
                self._fast[artifact] = self._compile(_draft7(inlined))
        events = self._inlined[names.EVENTS]
        for branch in events.get("allOf", []):
            for event_type in _branch_event_types(branch):
                self._branches.setdefault(event_type, []).append(branch)

    @classmethod
    def get(cls) -> Schemas:
        """The process's validators.

        Raises:
            MissingExtra: ``jsonschema``, a dependency of livesession, is missing from this
                environment (a broken install).
        """
        # Every time: it may have gone since the first call. Only looked for, not imported:
        # the reference validator is needed only to explain a rejected line.
        if _missing("jsonschema"):
            raise MissingExtra("jsonschema", "")  # a dependency, not an extra
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def errors(self, artifact: str, obj: dict[str, Any]) -> list[str]:
        """Up to three schema errors of ``obj``, as readable strings; [] when valid."""
        event_type = obj.get("event_type") if artifact == names.EVENTS else None
        key = event_type if isinstance(event_type, str) else None
        try:
            self._validator(artifact, key)(obj)
        except self._invalid as exc:
            # The two validators agree (tests say so); were they ever not to, the line
            # is still rejected, with the compiled validator's own words.
            return self._explain(artifact, key, obj) or [f"schema: (top level): {exc}"]
        return []

    def checker(self, artifact: str) -> Callable[[dict[str, Any]], list[str]]:
        """``errors`` for one artifact, as a function: the reader's per-line hot path."""
        if artifact != names.EVENTS:
            return lambda obj: self.errors(artifact, obj)
        by_type = self._fast_events
        invalid = self._invalid

        def check(obj: dict[str, Any]) -> list[str]:
            event_type = obj.get("event_type")
            validate = by_type.get(event_type) if type(event_type) is str else None
            if validate is None:
                return self.errors(artifact, obj)  # compiles this event type the first time
            try:
                validate(obj)
            except invalid:
                return self.errors(artifact, obj)
            return []

        return check

    def is_valid(self, artifact: str, obj: object) -> bool:
        """The compiled validator's verdict on ``obj`` alone (``errors`` explains a no)."""
        event_type = obj.get("event_type") if isinstance(obj, dict) else None
        key = event_type if artifact == names.EVENTS and isinstance(event_type, str) else None
        try:
            self._validator(artifact, key)(obj)
        except self._invalid:
            return False
        return True

    def _validator(self, artifact: str, event_type: str | None) -> Callable[[Any], Any]:
        if artifact != names.EVENTS:
            return self._fast[artifact]
        cache_key = "\0" if event_type is None else event_type
        found = self._fast_events.get(cache_key)
        if found is None:
            found = self._compile(_draft7(self._events_schema(event_type, then_only=True)))
            self._fast_events[cache_key] = found
        return found

    def _events_schema(self, event_type: str | None, *, then_only: bool) -> dict[str, Any]:
        """The events schema for one event type (None: one that is not a string)."""
        schema = self._inlined[names.EVENTS]
        if event_type is None:
            return schema
        plain = {key: value for key, value in schema.items() if key != "allOf"}
        kept = self._branches.get(event_type, [])
        if not kept:
            return plain
        if then_only and all(_is_type_test(b["if"]) for b in kept):
            return {**plain, "allOf": [b.get("then", {}) for b in kept]}
        return {**plain, "allOf": kept}

    def _explain(self, artifact: str, event_type: str | None, obj: dict[str, Any]) -> list[str]:
        """What the reference validator says is wrong with ``obj``."""
        validator = self._reference.get((artifact, event_type))
        if validator is None:
            module = import_optional("jsonschema", "")  # a dependency, not an extra
            schema = (
                self._events_schema(event_type, then_only=False)
                if artifact == names.EVENTS
                else self._inlined[artifact]
            )
            validator = module.Draft202012Validator(schema)
            self._reference[artifact, event_type] = validator
        found = sorted(validator.iter_errors(obj), key=lambda e: [str(p) for p in e.absolute_path])
        return [
            f"schema: {'.'.join(str(p) for p in e.absolute_path) or '(top level)'}: {e.message}"
            for e in found[:_MAX_SCHEMA_ERRORS_PER_LINE]
        ]


def _missing(module: str) -> bool:
    """``module`` cannot be imported (it is not installed, or blocked in ``sys.modules``)."""
    try:
        return importlib.util.find_spec(module) is None
    except (ImportError, ValueError):
        return True


def _is_type_test(condition: dict[str, Any]) -> bool:
    """``condition`` only asks for an ``event_type`` in an enum (true for the kept branch)."""
    return set(condition) == {"properties", "required"} and (
        condition["required"] == ["event_type"] and set(condition["properties"]) == {"event_type"}
    )


def _branch_event_types(branch: dict[str, Any]) -> list[str]:
    """The event types an ``if: {properties: {event_type: {enum: [...]}}}`` branch is for."""
    enum: list[str] = (
        branch.get("if", {}).get("properties", {}).get("event_type", {}).get("enum", [])
    )
    return enum


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    """``node`` with every ``{"$ref": "#/$defs/name"}`` replaced by the definition."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            target = _inline_refs(defs[ref.removeprefix("#/$defs/")], defs)
            siblings = {k: _inline_refs(v, defs) for k, v in node.items() if k != "$ref"}
            return {"allOf": [target], **siblings} if siblings else target
        return {k: _inline_refs(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline_refs(v, defs) for v in node]
    return node


def _newline_free(pattern: str) -> bool:
    """``pattern`` cannot match a string with a newline (judged conservatively)."""
    return "(?" not in pattern and "\n" not in pattern and bool(_NEWLINE_FREE.fullmatch(pattern))


def _draft7(node: Any) -> Any:
    r"""An inlined draft 2020-12 schema as draft-07, for fastjsonschema: same verdicts.

    ``dependentRequired`` becomes draft-07's ``dependencies``. ``not: {pattern: "\n"}``
    (a string of one line) becomes a positive pattern, or goes when the sibling pattern
    already implies it, because fastjsonschema raises and catches an exception for every
    string that passes a ``not``. This relies on fastjsonschema reading ``$`` as the end
    of the string (it compiles it as ``\Z``).
    """
    if isinstance(node, list):
        return [_draft7(value) for value in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    extra: list[dict[str, Any]] = []
    for key, value in node.items():
        if key in ("$schema", "$id"):
            continue
        if key == "dependentRequired":
            out["dependencies"] = _draft7(value)
        elif key == "not" and value == _NO_NEWLINE and node.get("type") == "string":
            pattern = node.get("pattern")
            if pattern is None:
                out["pattern"] = _ONE_LINE
            elif not _newline_free(pattern):
                extra.append({"pattern": _ONE_LINE})
        else:
            out[key] = _draft7(value)
    if extra:
        out["allOf"] = [*out.get("allOf", []), *extra]
    return out
