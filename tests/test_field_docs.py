"""``help()`` on what a session answers says what each of its fields means.

In a REPL or a notebook, ``help(result)`` is where a user looks: it showed the class's
first lines and the names of the fields (``torn``, ``position_in_doubt``,
``held_reports``), not what they mean, which was written only in the source.
"""

from __future__ import annotations

import pydoc

import attrs
import pytest

import livesession
from livesession._support.fielddocs import fields_in_doc

SHOWN = ("DryrunResult", "SessionInspection", "BookView", "VerbResult")


@pytest.mark.parametrize("name", SHOWN)
def test_help_describes_every_field(name: str) -> None:
    """Each field is listed under ``Fields:`` with a line of its own saying what it is."""
    cls = getattr(livesession, name)
    text = pydoc.plain(pydoc.render_doc(cls))
    assert "Fields:" in text
    listed = text.split("Fields:", 1)[1].splitlines()
    for field in attrs.fields(cls):
        at = next((i for i, line in enumerate(listed) if line.strip(" |") == field.name), None)
        assert at is not None, f"{name}.{field.name} is not listed by help()"
        assert len(listed[at + 1].strip(" |")) > 10, f"{name}.{field.name} has no description"


def test_a_class_without_a_source_is_left_as_it_is() -> None:
    """A class made where no source can be read (``exec``) keeps its docstring unchanged."""
    space: dict[str, object] = {}
    exec('class Made:\n    """Made."""\n    x: int\n    """The x."""\n', space)  # noqa: S102
    made = space["Made"]
    assert isinstance(made, type)
    assert fields_in_doc(made).__doc__ == "Made."
