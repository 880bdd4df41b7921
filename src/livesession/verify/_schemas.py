"""The JSON schemas of the four artifacts, as validators built once per process."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import orjson

from .._artifacts import names
from .._support.optional import import_optional

if TYPE_CHECKING:
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


class Schemas:
    """Validators for the four artifacts, built once per process from the shipped schemas.

    Same verdicts as validating against the schema files as they are, only faster: local
    ``$ref``s are inlined, and an event is checked against the events schema with only
    the ``if``/``then`` branches of its own ``event_type`` (the others cannot apply).
    """

    _instance: Schemas | None = None

    def __init__(self) -> None:
        module = import_optional("jsonschema", "observability")
        self._validator_class = module.Draft202012Validator
        self._full: dict[str, jsonschema.protocols.Validator] = {}
        self._by_event_type: dict[str, jsonschema.protocols.Validator] = {}
        for artifact, file_name in _SCHEMA_FILES.items():
            schema = orjson.loads((_SCHEMA_FOLDER / file_name).read_bytes())
            inlined = _inline_refs(schema, schema.get("$defs", {}))
            self._full[artifact] = self._validator_class(inlined)
            if artifact == names.EVENTS:
                self._specialise_events(inlined)

    @classmethod
    def get(cls) -> Schemas:
        """The process's validators.

        Raises:
            MissingExtra: ``jsonschema`` is not installed (``livesession[observability]``).
        """
        # Every time: the extra may have gone since the first call.
        import_optional("jsonschema", "observability")
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def _specialise_events(self, schema: dict[str, Any]) -> None:
        branches: list[dict[str, Any]] = schema.get("allOf", [])
        event_types = {t for branch in branches for t in _branch_event_types(branch)}
        for event_type in sorted(event_types):
            kept = [b for b in branches if event_type in _branch_event_types(b)]
            self._by_event_type[event_type] = self._validator_class({**schema, "allOf": kept})
        plain = {key: value for key, value in schema.items() if key != "allOf"}
        self._by_event_type[""] = self._validator_class(plain)

    def errors(self, artifact: str, obj: dict[str, Any]) -> list[str]:
        """Up to three schema errors of ``obj``, as readable strings; [] when valid."""
        validator = self._full[artifact]
        event_type = obj.get("event_type")
        if artifact == names.EVENTS and isinstance(event_type, str):
            validator = self._by_event_type.get(event_type, self._by_event_type[""])
        found = sorted(validator.iter_errors(obj), key=lambda e: [str(p) for p in e.absolute_path])
        return [
            f"schema: {'.'.join(str(p) for p in e.absolute_path) or '(top level)'}: {e.message}"
            for e in found[:_MAX_SCHEMA_ERRORS_PER_LINE]
        ]


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
