"""A plug-in that raises as it is imported, built or restored is named by its own line.

``strategy_factory 'desk.alpha:make' raised KeyError: 'lookback'`` named neither the file
nor the line, and nothing else did: the run is not written yet, so no session log holds the
traceback. The refusal now names the innermost line of the plug-in's own code (not
livesession's, nor the standard library's it called), as a step's error does.
"""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator

import pytest

from livesession import PluginError, create_run, load_config
from livesession.cli import main

_HELPERS = """
    from decimal import Decimal


    def scale(window):
        return Decimal(1) / Decimal(window)
"""

_ALPHA = """
    import json

    from deskraise.helpers import scale


    class Alpha:
        def __init__(self, strategy_id, window, settings):
            self.strategy_id = strategy_id
            self.settings = json.loads(settings)
            self.scale = scale(window)


    def make(*, strategy_id, window=0, settings="{}"):
        return Alpha(strategy_id, window, settings)
"""


@pytest.fixture(name="forgotten")
def _forgotten() -> Iterator[None]:
    """Each test imports its own copy of the package: this process forgets the last."""
    yield
    for name in [name for name in sys.modules if name.partition(".")[0] == "deskraise"]:
        del sys.modules[name]


@pytest.mark.parametrize(
    ("params", "said"),
    [
        # deep in a helper: the helper's line, not the factory's
        (
            "window = 0",
            "raised DivisionByZero: division by zero (at {helpers}:6 in scale)",
        ),
        # in the standard library, called by the desk's code: the desk's line
        (
            'window = 2\nsettings = "{lookback: 3}"',
            (
                "raised JSONDecodeError: Expecting property name enclosed in double quotes: "
                "line 1 column 2 (char 1) (at {alpha}:10 in __init__)"
            ),
        ),
    ],
)
@pytest.mark.usefixtures("forgotten")
def test_a_factory_that_raises_names_the_line_of_the_desk_s_code(tmp_path, capsys, params, said):
    package = tmp_path / "deskraise"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "helpers.py").write_text(textwrap.dedent(_HELPERS))
    (package / "alpha.py").write_text(textwrap.dedent(_ALPHA))
    config = tmp_path / "desk.toml"
    config.write_text(f'strategy_factory = "deskraise.alpha:make"\n[strategy_params]\n{params}\n')
    said = "strategy_factory 'deskraise.alpha:make' " + said.format(
        helpers=package / "helpers.py", alpha=package / "alpha.py"
    )
    out = tmp_path / "runs"
    assert main(["dryrun", "-c", str(config), "--out", str(out), "--json"]) == 2
    printed = capsys.readouterr()
    assert printed.err == f"livesession: error: {said}\n"
    assert json.loads(printed.out)["error"] == said
    with pytest.raises(PluginError) as refused:
        create_run(load_config(config), out)
    assert str(refused.value) == said
    assert not out.exists()
