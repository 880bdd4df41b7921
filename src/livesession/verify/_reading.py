"""The verifier's own reading of a run: raw bytes in, parsed lines and violations out.

Deliberately independent of the recorder and of the tools' lenient reader
(``_artifacts.runread``): every byte is read as it is on disk and whatever is not exactly
what the contract says becomes a violation, never an exception.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import attrs
import orjson

from .._artifacts import names

if TYPE_CHECKING:
    from pathlib import Path

    from .._artifacts.runread import RunCut
    from ._result import Violations
    from ._schemas import Schemas

__all__ = ["ARTIFACT_NAMES", "Line", "RunFiles", "valid_objects"]

EVENTS: Final = names.EVENTS
SNAPSHOTS: Final = names.SNAPSHOTS
METRICS: Final = names.METRICS
AUDIT: Final = names.AUDIT

#: The four contract artifacts, in the order they are checked.
ARTIFACT_NAMES: Final = (EVENTS, SNAPSHOTS, METRICS, AUDIT)


@attrs.define
class Line:
    """One line of a JSON Lines artifact: its number, raw bytes and, if valid, the object."""

    number: int
    raw: bytes
    obj: dict[str, Any] | None


def valid_objects(lines: list[Line]) -> list[tuple[int, dict[str, Any]]]:
    """(number, object) of the lines that parsed and matched their schema."""
    return [(line.number, line.obj) for line in lines if line.obj is not None]


def _first_float(obj: object) -> str | None:
    """The path of the first float in ``obj``, or None; iterative, so depth cannot crash it."""
    stack: list[tuple[str, object]] = [("", obj)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, float):
            return path or "(top level)"
        if isinstance(value, dict):
            stack.extend((f"{path}.{key}" if path else str(key), v) for key, v in value.items())
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", v) for i, v in enumerate(value))
    return None


class RunFiles:
    """The four artifacts of one run as read; what is wrong with them goes to ``report``.

    Filled in place by ``read``, so that whatever was read before a failure stays
    available to the checks that follow.
    """

    def __init__(self, schemas: Schemas, report: Violations) -> None:
        self.schemas = schemas
        self.report = report
        self.raw: dict[str, bytes | None] = {}
        self.lines: dict[str, list[Line]] = {}
        self.metrics: dict[str, Any] | None = None
        self.metrics_fields: frozenset[str] = frozenset()
        self.metrics_text: list[str] = []
        self.counts: dict[str, int] = {}

    def read(self, run_dir: Path, cut: RunCut | None = None) -> None:
        """Read every artifact of ``run_dir``, parsing and schema-checking each line.

        With a ``cut`` (a live run) each file is read only up to where its last checkpoint
        says (plain byte offsets: the cut trusts nothing else of the writer's).
        """
        if not run_dir.is_dir():
            self.report.add(str(run_dir), 0, "run directory does not exist")
        for name in ARTIFACT_NAMES:
            if cut is not None and name == METRICS and cut.metrics is None:
                self.lines[name] = []  # not matched to the checkpoint: left unchecked
                self.counts[name] = 0
                continue
            try:
                raw = (
                    (run_dir / name).read_bytes() if cut is None else cut.read_bytes(run_dir / name)
                )
            except FileNotFoundError:
                self.report.add(name, 0, "missing")
                raw = None
            except OSError as exc:
                self.report.add(name, 0, f"cannot be read: {type(exc).__name__}")
                raw = None
            self.raw[name] = raw
            if raw is None:
                self.lines[name] = []
            elif name == METRICS:
                self._read_metrics(raw)
            else:
                self.lines[name] = self._read_jsonl(name, raw)
            self.counts[name] = len(self.lines.get(name, ()))
        self.counts[METRICS] = int(self.metrics is not None)

    def metrics_line(self, field: str) -> int:
        """The line of ``metrics.json`` where ``field`` is written (1 if not found)."""
        needle = f'"{field}":'
        for number, text in enumerate(self.metrics_text, 1):
            if needle in text:
                return number
        return 1

    def _read_jsonl(self, name: str, raw: bytes) -> list[Line]:
        if not raw:
            self.report.add(name, 0, "empty file")
            return []
        chunks = raw.split(b"\n")
        if chunks[-1]:
            self.report.add(name, len(chunks), "last line does not end with \\n (torn line)")
        else:
            chunks.pop()
        return [self._parse_line(name, number, chunk) for number, chunk in enumerate(chunks, 1)]

    def _parse_line(self, name: str, number: int, raw: bytes) -> Line:
        obj = self._parse_object(name, number, raw)
        if obj is None:
            return Line(number, raw, None)
        if orjson.dumps(obj, option=orjson.OPT_SORT_KEYS) != raw:
            self.report.add(name, number, "not in canonical form (sorted keys, no spaces)")
        errors = self.schemas.errors(name, obj)
        for error in errors:
            self.report.add(name, number, error)
        return Line(number, raw, None if errors else obj)

    def _parse_object(self, name: str, number: int, raw: bytes) -> dict[str, Any] | None:
        if not raw:
            self.report.add(name, number, "empty line")
            return None
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            self.report.add(name, number, f"not valid JSON: {exc}")
            return None
        if not isinstance(obj, dict):
            self.report.add(name, number, f"not a JSON object but {type(obj).__name__}")
            return None
        float_at = _first_float(obj)
        if float_at is not None:
            self.report.add(name, number, f"float at {float_at}: numbers must be ints or strings")
            return None
        return obj

    def _read_metrics(self, raw: bytes) -> None:
        if not raw:
            self.report.add(METRICS, 0, "empty file")
            return
        obj = self._parse_object(METRICS, 1, raw)
        if obj is None:
            return
        self.metrics_text = raw.decode("utf-8", errors="replace").split("\n")
        compact = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
        indented = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)
        if raw not in (compact + b"\n", indented + b"\n"):
            self.report.add(
                METRICS,
                0,
                "not in canonical form (sorted keys, compact or 2-space indent, one final \\n)",
            )
        errors = self.schemas.errors(METRICS, obj)
        for error in errors:
            self.report.add(METRICS, 1, error)
        if not errors:
            self.metrics = obj
            self.metrics_fields = frozenset(obj)
