"""No test sleeps on the wall clock, but for the bounded polls and child blocks listed here.

A test that waits for time to pass (a lease TTL, "long enough for the other thread to
block", a renewal coming due) bets on a machine's speed: it injects the clock instead, waits
on an event, or writes the state it waited for (an expired lease). What is left of
``time.sleep`` is listed in ``ALLOWED`` with its reason: a bounded poll of another process's
or thread's state, with a deadline and a failure naming what it waited for, where there is
no event to wait on; or a child process that sleeps until the test ends it.

Every test module and helper is parsed, not imported, and so is the Python in its string
constants (the scripts and sitecustomize files a test gives a child). Each ``time.sleep``
(called or passed on), ``sleep`` imported from ``time``, and ``asyncio.sleep`` of anything
but 0 is found by where it is: the file, the enclosing functions, and, inside a string, the
name the string is assigned to and the functions within it.

A wait that nothing can end but its timeout is a sleep too, by another name: an ``Event``
or ``Condition`` made and waited on at once (``threading.Event().wait(0.001)``), an event
nothing sets (waited on, asked ``is_set``, never set, passed on or given to another tree
that could: a script's event its file sets counts as set), ``select`` on no descriptors,
``sigtimedwait`` on no signals. A poll of another thread's state waits on what changes it
instead (``_gate_watch.GateWatch`` for a session gate's turns, an event the code or a hook
sets), or is the suite's ``until``.

So is ``asyncio.wait_for(event.wait(), timeout)`` on such an event, and ``get`` with a
timeout of a queue made at once or that nothing puts into (``queue.Queue().get(timeout=1)``).
An event or a queue is known by what made it, under any name it was imported as, and in an
annotated assignment too. And so is any timed wait (``wait``, ``wait_for``, ``get``,
``communicate``) whose timeout is the expected ending: one under ``pytest.raises`` of the
error a timeout raises (``TimeoutExpired``, ``TimeoutError``, ``Empty``), or in a ``try``
whose handler of it carries on (neither raises nor fails). A timed wait that normally
returns at once (a child that ends, an event another thread sets), its timeout a safety net
that fails the test, is no sleep.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

ALLOWED: dict[str, str] = {
    "_helpers.py::until": (
        "the suite's bounded poll: a deadline, a failure naming what it waited for, and an "
        "early one when the process it watches ended first"
    ),
    "test_lease_session.py::_stop_the_last": (
        "a bounded poll until all racers but one ended (Popen has no wait-any); the exit "
        "codes are asserted after it"
    ),
    "test_mutants_tool.py::_still_alive": (
        "a bounded poll of processes that are not the test's children (no event to wait "
        "on); the caller asserts on what is left"
    ),
    "test_threads.py::_trial": (
        "the stress test's seeded sub-millisecond jitter: where the verb lands in the run "
        "is the subject; nothing waits on it"
    ),
    "test_controls_at_edges.py::_HELD_RESUME > resume_run": (
        "the child resume is held while the test's hold file exists (bounded): the test "
        "releases it by removing the file"
    ),
    "test_two_stops.py::_HOLDER > held": (
        "the child's step or wind-down is held while the test's hold file exists (bounded): "
        "the test releases it by removing the file"
    ),
    "_childscripts.py::SLOW_WINDDOWN > slow": (
        "the child's wind-down waits (bounded) for the test's second signal, which ends it"
    ),
    "test_signals.py::_POOLED > _busy": "a pool worker that blocks until the pool terminates it",
    "test_late_signals.py::test_a_ctrl_c_as_the_evidence_re_run_process_starts_leaves_it_killed"
    " > signalled > <script>": "a child that exists only to be killed by the clean-up under test",
    "test_late_signals.py::_CHATTY > _poll": (
        "a client library's poller thread that prints at its own pace (the subject); "
        "nothing waits on it"
    ),
}
"""Where a wall-clock sleep is allowed, and why."""


def _is_sleep(node: ast.AST, imported: set[str]) -> bool:
    """``time.sleep`` (called or not), a ``sleep`` from ``time``, ``asyncio.sleep(x)``, x ≠ 0."""
    if isinstance(node, ast.Attribute) and node.attr == "sleep":
        return isinstance(node.value, ast.Name) and node.value.id == "time"
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name) and func.id in imported:
            return True
        if (
            isinstance(func, ast.Attribute)
            and func.attr == "sleep"
            and isinstance(func.value, ast.Name)
            and func.value.id == "asyncio"
        ):
            zero = isinstance(node.args[0], ast.Constant) and node.args[0].value == 0
            return bool(node.args) and not zero
    return False


_MADE = {"Event", "Condition", "Queue", "SimpleQueue", "LifoQueue", "PriorityQueue"}
"""What a wait on a fresh one of, with a timeout, is a sleep: nothing can set, notify or fill it."""
_NEVER_SET_USES = {"wait", "wait_for", "is_set", "clear", "get", "get_nowait", "empty", "qsize"}
"""The uses of an ``Event`` (a queue) that leave it unset (empty): one used only so stays so."""
_WORDS = ("sleep", ".wait(", "select(", "sigtimedwait", "wait_for(", ".get(", "communicate(")
"""Words without one of which a source cannot sleep (a cheap filter before parsing)."""
_TIMEOUTS = {"TimeoutExpired", "TimeoutError", "Empty"}
"""What a timed wait raises when its timeout elapses: a wait that expects one sleeps."""


def _path(node: ast.AST) -> str | None:
    """``pause`` for ``pause`` and ``self.pause`` (any object's: it may be another's ``self``)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


_ALIASES: list[set[str]] = [set()]
"""The names ``_MADE``'s kinds were imported as in the tree being scanned (``sleeps``)."""


def _made(node: ast.AST) -> bool:
    """``Event()``, ``threading.Condition()``, ``queue.Queue()``: a new event, condition or queue."""
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    return name in _MADE or name in _ALIASES[-1]


def _aliases(tree: ast.AST) -> set[str]:
    """The other names ``_MADE``'s kinds go by in ``tree``: ``from threading import Event as Flag``."""
    return {
        alias.asname
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.name in _MADE and alias.asname
    }


def _given(tree: ast.AST) -> set[str]:
    """The names in ``tree`` used other than to wait or ask: what may set an event."""
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    return {
        path
        for node in ast.walk(tree)
        if isinstance(getattr(node, "ctx", None), ast.Load) and (path := _path(node)) is not None
        if not (
            isinstance(parent := parents.get(node), ast.Attribute)
            and parent.attr in _NEVER_SET_USES
        )
    }


def _never_set(tree: ast.AST, given: set[str]) -> set[str]:
    """The events made in ``tree`` only ever waited on or asked about, never set.

    ``given``: names used elsewhere (the file around a script: ``module.EVENT.set()``).
    """
    made: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign) and node.value is not None and _made(node.value):
            made |= {path} if (path := _path(node.target)) is not None else set()
        if isinstance(node, ast.Assign):
            for target in node.targets:
                pairs = [(target, node.value)]
                if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                    pairs = list(zip(target.elts, node.value.elts, strict=False))
                made |= {
                    path
                    for name, value in pairs
                    if _made(value) and (path := _path(name)) is not None
                }
    return made - _given(tree) - given  # set, passed on, or given away: it may be set


def _empty(node: ast.AST) -> bool:
    """``[]``, ``()``, ``set()``: no descriptors or signals to wait for."""
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return not node.elts
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in {"set", "list", "tuple"}
        and not node.args
    )


def _is_disguised(node: ast.AST, never_set: set[str]) -> bool:
    """A wait with a timeout on nothing that can end it: a sleep by another name.

    ``Event().wait(t)`` or ``Condition().wait_for(p, t)`` (made and waited on at once), ``pause.wait(t)``
    on an event nothing sets, ``select.select([], [], [], t)``, ``signal.sigtimedwait([], t)``.
    """
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name | ast.Attribute):
        return False
    func = node.func
    name = func.id if isinstance(func, ast.Name) else func.attr
    timed = bool(node.args) or any(keyword.arg == "timeout" for keyword in node.keywords)
    if name == "wait_for" and _awaits_nothing(node, never_set):
        return True
    waits = (name in {"wait", "wait_for"} and timed) or (name == "get" and _timed(node, "get"))
    if waits and isinstance(func, ast.Attribute):
        return _made(func.value) or _path(func.value) in never_set
    if name == "select":
        return len(node.args) == 4 and all(_empty(arg) for arg in node.args[:3])
    if name == "sigtimedwait":
        return bool(node.args) and _empty(node.args[0])
    return False


def _timed(node: ast.Call, name: str) -> bool:
    """Whether the call ``name`` is given a timeout: ``timeout=``, or its place by position.

    ``get(True, 5)`` and ``communicate(None, 5)`` (a dict's ``get(key)``, a ``communicate``
    of input only, have none); ``wait(5)``; ``wait_for(aw, 5)`` and ``wait_for(p, 5)``.
    """
    if any(keyword.arg == "timeout" for keyword in node.keywords):
        return True
    return len(node.args) >= (1 if name == "wait" else 2)


def _awaits_nothing(node: ast.Call, never_set: set[str]) -> bool:
    """``asyncio.wait_for(event.wait(), t)`` (or a queue's ``get()``) on what nothing ends."""
    if not node.args or not _timed(node, "wait_for"):
        return False
    awaited = node.args[0]
    if not isinstance(awaited, ast.Call) or not isinstance(awaited.func, ast.Attribute):
        return False
    if awaited.func.attr not in {"wait", "get"}:
        return False
    return _made(awaited.func.value) or _path(awaited.func.value) in never_set


def _named(node: ast.AST | None) -> set[str]:
    """The exception names ``node`` catches: ``TimeoutExpired``, ``(queue.Empty, OSError)``."""
    if node is None:
        return set()
    if isinstance(node, ast.Tuple):
        return set().union(*(_named(element) for element in node.elts))
    path = _path(node)
    return set() if path is None else {path}


def _expects_timeout(node: ast.AST) -> bool:
    """``with pytest.raises(TimeoutExpired):``, or a ``try`` whose handler of one carries on.

    A handler that raises or fails the test (``pytest.fail``) keeps its wait a safety net.
    """
    if isinstance(node, ast.With | ast.AsyncWith):
        return any(
            isinstance(item.context_expr, ast.Call)
            and _path(item.context_expr.func) == "raises"
            and bool(item.context_expr.args)
            and bool(_named(item.context_expr.args[0]) & _TIMEOUTS)
            for item in node.items
        )
    if isinstance(node, ast.Try):
        return any(
            _named(handler.type) & _TIMEOUTS and not _fails(handler) for handler in node.handlers
        )
    return False


def _fails(handler: ast.ExceptHandler) -> bool:
    """Whether ``handler`` raises or fails the test: its timeout is no expected ending."""
    return any(
        isinstance(node, ast.Raise)
        or (isinstance(node, ast.Call) and _path(node.func) in {"fail", "skip"})
        for node in ast.walk(handler)
    )


def _waits_timed(node: ast.AST) -> bool:
    """A timed ``wait``, ``wait_for``, ``get`` or ``communicate`` (``_timed``)."""
    if not isinstance(node, ast.Call):
        return False
    name = _path(node.func)
    return name in {"wait", "wait_for", "get", "communicate"} and _timed(node, name)


def _text(node: ast.AST) -> str | None:
    """A string constant's text; an f-string's with each ``{...}`` left out."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            part.value
            for part in node.values
            if isinstance(part, ast.Constant) and isinstance(part.value, str)
        )
    return None


def _script(text: str) -> ast.Module | None:
    """``text`` parsed as Python, when it is Python that may sleep."""
    if not any(word in text for word in _WORDS):
        return None
    try:
        return ast.parse(textwrap.dedent(text))
    except (SyntaxError, ValueError):  # a NUL: ValueError on early 3.11s (3.11.2)
        return None


def _imported_sleep(tree: ast.AST) -> set[str]:
    """The names ``sleep`` from ``time`` goes by in ``tree``."""
    return {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "time"
        for alias in node.names
        if alias.name == "sleep"
    }


def _string_at(node: ast.AST, at: str) -> tuple[str, str] | None:
    """A string's text and where it is: a module's, by its variable's name; else ``at``."""
    if (
        isinstance(node, ast.Assign)
        and not at
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
    ):
        text = _text(node.value)
        return None if text is None else (text, node.targets[0].id)
    text = _text(node)
    return None if text is None else (text, f"{at} > <script>" if at else "<script>")


def sleeps(tree: ast.AST, where: str = "", given: frozenset[str] = frozenset()) -> Iterator[str]:
    """Where in ``tree`` a wall-clock sleep is: ``a > b`` for a function ``b`` in ``a``.

    ``given``: for a script, the names its file uses other than to wait (``_given``).
    """
    imported = _imported_sleep(tree)
    _ALIASES.append(_aliases(tree))
    try:
        given = given | _given(tree)
        never_set = _never_set(tree, set(given))
        found = list(_visit_all(tree, where, imported, never_set, given))
    finally:
        _ALIASES.pop()
    yield from found


def _children(node: ast.AST, expects: bool) -> Iterator[tuple[ast.AST, bool]]:
    """``node``'s children, each with whether a timeout is its waits' expected ending.

    The body of a ``with pytest.raises(TimeoutExpired)`` or of a ``try`` that carries on
    after one (``_expects_timeout``) expects it; its handlers and the rest, as around them.
    """
    body = node.body if isinstance(node, ast.With | ast.AsyncWith | ast.Try) else []
    inside = bool(body) and _expects_timeout(node)
    for child in ast.iter_child_nodes(node):
        yield child, (True if inside and child in body else expects)


def _visit_all(
    tree: ast.AST, where: str, imported: set[str], never_set: set[str], given: frozenset[str]
) -> Iterator[str]:
    """``sleeps``' walk of ``tree``: each sleep's place, a string's script's in turn."""

    def visit(node: ast.AST, at: str, expects: bool) -> Iterator[str]:
        if (
            _is_sleep(node, imported)
            or _is_disguised(node, never_set)
            or (expects and _waits_timed(node))
        ):
            yield at or "<script>"
            if isinstance(node, ast.Attribute):
                return
        string = _string_at(node, at)
        if string is not None:
            script = _script(string[0])
            if script is not None:
                yield from sleeps(script, string[1], given)
            return
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            at = f"{at} > {node.name}" if at else node.name
            expects = False  # called from elsewhere: its own waits are its own
        elif isinstance(node, ast.Assign) and not at and isinstance(node.targets[0], ast.Name):
            at = node.targets[0].id  # a module's name
        for child, expected in _children(node, expects):
            yield from visit(child, at, expected)

    for child in ast.iter_child_nodes(tree):
        yield from visit(child, where, False)


def wall_sleeps(root: Path) -> dict[str, int]:
    """Each place under ``root``'s Python files that sleeps, as ``file::where``, counted."""
    found: dict[str, int] = {}
    for path in sorted(root.rglob("*.py")):
        if path.name == Path(__file__).name:
            continue  # its examples below sleep on purpose
        source = path.read_text(encoding="utf-8")
        if not any(word in source for word in _WORDS):
            continue  # no sleep of any form
        tree = ast.parse(source, filename=str(path))
        for where in sleeps(tree):
            key = f"{path.relative_to(root).as_posix()}::{where}"
            found[key] = found.get(key, 0) + 1
    return found


def test_no_test_sleeps_on_the_wall_clock_but_the_listed_polls() -> None:
    found = wall_sleeps(TESTS)
    unlisted = sorted(set(found) - set(ALLOWED))
    assert not unlisted, (
        "a test sleeps on the wall clock: inject the clock, wait on an event, or write the "
        "state it waits for (a bounded poll with a deadline and a message, where no event "
        f"exists, goes in ALLOWED with its reason): {unlisted}"
    )
    assert sorted(set(ALLOWED) - set(found)) == []  # an entry nothing uses any more goes


@pytest.mark.parametrize(
    ("source", "where"),
    [
        ("import time\ndef f():\n    time.sleep(1)\n", ["f"]),
        ("from time import sleep as nap\nclass C:\n    def m(self):\n        nap(1)\n", ["C > m"]),
        ("import time\nwait = time.sleep\n", ["wait"]),
        ("import asyncio\nasync def f():\n    await asyncio.sleep(0.5)\n", ["f"]),
        ("import asyncio\nasync def f():\n    await asyncio.sleep(0)\n", []),
        ('S = """\nimport time\ndef held():\n    time.sleep(0.01)\n"""\n', ["S > held"]),
        ('def t():\n    run(["python", "-c", "import time; time.sleep(60)"])\n', ["t > <script>"]),
        ('S = f"""\nimport time\n{X}\ndef g():\n    time.sleep(1)\n"""\n', ["S > g"]),
        ("import time\ndef f():\n    time.monotonic()\n", []),
        ('TEXT = "a sleep(3) in words"\n', []),
    ],
)
def test_the_scan_finds_each_form_of_sleep(source: str, where: list[str]) -> None:
    assert list(sleeps(ast.parse(source))) == where


_NEVER_SET = """
import threading
def f():
    woke, pause = threading.Event(), threading.Event()  # pause: never set
    start(woke.set)
    woke.wait(5)
    while not pause.is_set():
        pause.wait(0.001)
"""

_ATTRIBUTE = """
from threading import Event
class C:
    def __init__(self):
        self.pause = Event()
    def m(self):
        self.pause.wait(0.1)
"""
_SCRIPT = '''
S = """
from threading import Event
E = Event()
def held():
    E.wait(60)
"""
'''


@pytest.mark.parametrize(
    ("source", "where"),
    [
        ("import threading\ndef f():\n    threading.Event().wait(0.001)\n", ["f"]),
        ("from threading import Condition\ndef f():\n    Condition().wait(timeout=1)\n", ["f"]),
        ("import threading\ndef f():\n    threading.Event().wait()\n", []),  # till killed
        ("import threading\ndef f(c):\n    threading.Condition().wait_for(c, 1)\n", ["f"]),
        (_NEVER_SET, ["f"]),  # once: pause, not woke
        ("from threading import Event\nE = Event()\ndef f():\n    E.wait(1)\n", ["f"]),
        ("from threading import Event\nE = Event()\ndef f():\n    g(E)\n    E.wait(1)\n", []),
        (_ATTRIBUTE, ["C > m"]),
        ("import select\ndef f():\n    select.select([], [], [], 0.05)\n", ["f"]),
        ("import select\ndef f(c):\n    select.select([c], [], [], 0.05)\n", []),
        ("import signal\ndef f():\n    signal.sigtimedwait(set(), 1)\n", ["f"]),
        ("import signal\ndef f():\n    signal.sigtimedwait({signal.SIGUSR1}, 1)\n", []),
        (
            'S = """\nfrom threading import Event\nE = Event()\ndef held():\n    E.wait(60)\n"""\n',
            ["S > held"],
        ),
        (_SCRIPT + "def t(module):\n    module.E.set()\n", []),  # the file around sets it
    ],
)
def test_the_scan_finds_each_wait_that_is_a_sleep(source: str, where: list[str]) -> None:
    assert list(sleeps(ast.parse(source))) == where


_WAIT_FOR_UNSET = """
import asyncio
async def f():
    done = asyncio.Event()
    await asyncio.wait_for(done.wait(), 0.1)
"""
_WAIT_FOR_SET = """
import asyncio
async def f(loop):
    done = asyncio.Event()
    loop.call_soon(done.set)
    await asyncio.wait_for(done.wait(), 30)
"""
_QUEUE_FILLED = """
import queue
def f():
    answers = queue.Queue()
    start(answers.put)
    return answers.get(timeout=60)
"""
_EXPECTED = """
import subprocess, pytest
def f(proc):
    with pytest.raises(subprocess.TimeoutExpired):
        proc.communicate(timeout=0.5)
"""
_CARRIED_ON = """
import queue
def f(q):
    try:
        q.get(timeout=0.2)
    except queue.Empty:
        pass
"""
_SAFETY_NET = """
import subprocess, pytest
def f(proc):
    try:
        return proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("the child did not end")
"""


@pytest.mark.parametrize(
    ("source", "where"),
    [
        (_WAIT_FOR_UNSET, ["f"]),  # nothing sets it: the timeout is the ending
        (
            "import asyncio\nasync def f():\n    await asyncio.wait_for(asyncio.Event().wait(), 1)\n",
            ["f"],
        ),
        (_WAIT_FOR_SET, []),  # set by the loop: the timeout is a safety net
        ("import queue\ndef f():\n    queue.Queue().get(timeout=0.1)\n", ["f"]),
        ("import queue\ndef f():\n    q = queue.Queue()\n    q.get(True, 1)\n", ["f"]),
        (_QUEUE_FILLED, []),
        ("def f(d):\n    return d.get('k', 1)\n", []),  # a dict's get
        (
            "import threading\ndef f():\n    e: threading.Event = threading.Event()\n    e.wait(1)\n",
            ["f"],
        ),
        ("from threading import Event as Flag\ndef f():\n    Flag().wait(1)\n", ["f"]),
        (_EXPECTED, ["f"]),
        (_CARRIED_ON, ["f"]),
        (_SAFETY_NET, []),
        ("import subprocess\ndef f(proc):\n    return proc.communicate(timeout=60)\n", []),
    ],
)
def test_the_scan_finds_each_timed_wait_whose_timeout_is_its_ending(
    source: str, where: list[str]
) -> None:
    """``asyncio.wait_for(event.wait(), t)``, ``queue.Queue().get(timeout=t)``, an event
    made in an annotated assignment or under another name, and a ``communicate`` (any timed
    wait) that expects its ``TimeoutExpired`` were not found: each waits out its timeout."""
    assert list(sleeps(ast.parse(source))) == where
