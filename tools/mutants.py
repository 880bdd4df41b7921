"""A small mutation runner: does some test fail when one operator of a module changes?

Dependency-free (the standard library's ``ast``). It lists the mutation sites of one module
(a comparison flipped, ``and``/``or`` swapped, a ``not`` dropped, ``+``/``-`` swapped, an
integer constant moved by one, ``True``/``False`` swapped, ``return X`` made ``return None``
in a function typed to answer ``None``, ``break``/``continue`` swapped, a call statement
deleted), writes each mutant over the module in turn, runs the given test files with ``-x``
and restores the module byte for byte. A mutant no test kills is printed: it is an
equivalent mutant, a behaviour no test pins, or a bug the mutant shows.

    python tools/mutants.py src/livesession/_risk/rails.py tests/test_rails.py \
        [--only FUNC,FUNC] [--sample N] [--list] [--log FILE]

Run it in a worktree of your own, never where someone else's tests run: the module is
rewritten while the tests run. ``--list`` prints the sites without running anything.
Stop it with Ctrl-C, or with SIGTERM when it runs in the background (where SIGINT is
ignored): either puts the module back and ends the tests' processes.
Leave out of the test list a test that reads the package's source as text
(tests/test_crash_spec.py): a mutant is written back with ``ast.unparse``, so such a test
fails on every mutant, whatever it changed, and its kills mean nothing.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

_CMP = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
_BIN = {ast.Add: ast.Sub, ast.Sub: ast.Add}


def _may_answer_none(node: ast.Return, func: ast.FunctionDef | ast.AsyncFunctionDef | None) -> bool:
    """A ``return X`` (X not None) in a function typed to answer None too: ``return None``."""
    return (
        node.value is not None
        and not (isinstance(node.value, ast.Constant) and node.value.value is None)
        and func is not None
        and func.returns is not None
        and "None" in ast.unparse(func.returns)
    )


class _Sites(ast.NodeVisitor):
    """Every mutation site of a module: (index, line, function, description)."""

    def __init__(self) -> None:
        self.sites: list[tuple[int, int, str, str]] = []
        self._func: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
        self._n = 0
        self._field = False

    def _add(self, node: ast.AST, what: str) -> None:
        name = self._func[-1].name if self._func else "<module>"
        self.sites.append((self._n, getattr(node, "lineno", 0), name, what))
        self._n += 1

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._func.append(node)
        for stmt in node.body:  # not the annotations, defaults stay visited below
            self.visit(stmt)
        for default in node.args.defaults + [d for d in node.args.kw_defaults if d]:
            self.visit(default)
        self._func.pop()

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self.visit_FunctionDef(node)  # type: ignore[arg-type]

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if isinstance(node.value, ast.Constant) and not self._func:
            self._field = True  # a class's field default (``adding_only: bool = False``)
            self.visit(node.value)
            self._field = False
        elif node.value is not None:
            self.visit(node.value)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        del node  # the text of a message: not a decision

    def visit_Compare(self, node: ast.Compare) -> None:
        for i, op in enumerate(node.ops):
            if type(op) in _CMP:
                self._add(node, f"cmp[{i}] {type(op).__name__}->{_CMP[type(op)].__name__}")
        self.generic_visit(node)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        self._add(node, f"boolop {type(node.op).__name__} swapped")
        self.generic_visit(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        if isinstance(node.op, ast.Not):
            self._add(node, "not removed")
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if type(node.op) in _BIN:
            self._add(node, f"binop {type(node.op).__name__}->{_BIN[type(node.op)].__name__}")
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if type(node.op) in _BIN:
            self._add(node, f"augassign {type(node.op).__name__} swapped")
        self.generic_visit(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for stmt in node.body:  # not the decorators (attrs' options)
            self.visit(stmt)

    def visit_Constant(self, node: ast.Constant) -> None:
        if not self._func and not self._field:
            return  # a module's constant, or attrs' options
        if isinstance(node.value, bool):
            self._add(node, f"{node.value} -> {not node.value}")
        elif isinstance(node.value, int):
            self._add(node, f"int {node.value} +1")
            self._add(node, f"int {node.value} -1")

    def visit_Return(self, node: ast.Return) -> None:
        if _may_answer_none(node, self._func[-1] if self._func else None):
            self._add(node, "return X -> return None")
        self.generic_visit(node)

    def visit_Break(self, node: ast.Break) -> None:
        self._add(node, "break -> continue")

    def visit_Continue(self, node: ast.Continue) -> None:
        self._add(node, "continue -> break")

    def visit_Expr(self, node: ast.Expr) -> None:
        if isinstance(node.value, ast.Call):
            self._add(node, "call statement deleted")
        self.generic_visit(node)


class _Apply(_Sites):
    """The same walk, applying the mutation at index ``target`` (the node it changes)."""

    def __init__(self, target: int) -> None:
        super().__init__()
        self.target = target
        self.done = False
        self.dropped: set[int] = set()
        """The ``not`` node this mutant drops (``_Unwrap``), by ``id`` while its tree lives.
        A set kept across mutants dropped, in a later one, whatever node Python gave a
        freed node's ``id``: a second, unasked change."""

    def _hit(self) -> bool:
        hit = self._n == self.target
        self._n += 1
        return hit

    def _add(self, node: ast.AST, what: str) -> None:  # pragma: no cover - replaced below
        raise AssertionError((node, what))

    def visit_Compare(self, node: ast.Compare) -> None:
        for i, op in enumerate(node.ops):
            if type(op) in _CMP and self._hit():
                node.ops[i] = _CMP[type(op)]()
                self.done = True
        ast.NodeVisitor.generic_visit(self, node)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        if self._hit():
            node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
            self.done = True
        ast.NodeVisitor.generic_visit(self, node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        if isinstance(node.op, ast.Not) and self._hit():
            self.dropped.add(id(node))  # _Unwrap drops it
            self.done = True
        ast.NodeVisitor.generic_visit(self, node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if type(node.op) in _BIN and self._hit():
            node.op = _BIN[type(node.op)]()
            self.done = True
        ast.NodeVisitor.generic_visit(self, node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if type(node.op) in _BIN and self._hit():
            node.op = _BIN[type(node.op)]()
            self.done = True
        ast.NodeVisitor.generic_visit(self, node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if not self._func and not self._field:
            return
        if isinstance(node.value, bool):
            if self._hit():
                node.value = not node.value
                self.done = True
        elif isinstance(node.value, int):
            if self._hit():
                node.value += 1
                self.done = True
            if self._hit():
                node.value -= 1
                self.done = True

    def visit_Return(self, node: ast.Return) -> None:
        if _may_answer_none(node, self._func[-1] if self._func else None) and self._hit():
            node.value = ast.Constant(None)
            self.done = True
            return
        ast.NodeVisitor.generic_visit(self, node)

    def visit_Break(self, node: ast.Break) -> None:
        if self._hit():
            self.done = True
            node.__class__ = ast.Continue

    def visit_Continue(self, node: ast.Continue) -> None:
        if self._hit():
            self.done = True
            node.__class__ = ast.Break

    def visit_Expr(self, node: ast.Expr) -> None:
        if isinstance(node.value, ast.Call) and self._hit():
            node.value = ast.Constant(None)  # the statement does nothing now
            self.done = True
            return
        ast.NodeVisitor.generic_visit(self, node)


class _Unwrap(ast.NodeTransformer):
    """Drops the ``not`` nodes ``dropped`` names (by ``id``, of the one tree both walk)."""

    def __init__(self, dropped: set[int]) -> None:
        self._dropped = dropped

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        return node.operand if id(node) in self._dropped else node


def sites(source: str) -> list[tuple[int, int, str, str]]:
    """Every mutation site of ``source``: (index, line, function, description)."""
    walker = _Sites()
    walker.visit(ast.parse(source))
    return walker.sites


def mutant(source: str, index: int) -> str:
    """``source`` with the mutation at ``index`` applied."""
    tree = ast.parse(source)
    apply = _Apply(index)
    apply.visit(tree)
    if not apply.done:
        raise ValueError(f"no mutation site {index}")
    tree = _Unwrap(apply.dropped).visit(tree)
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def _run_tests(tests: list[str], timeout: int) -> tuple[int, str]:
    command = ["nice", "-n", "10", "timeout", str(timeout), sys.executable, "-m", "pytest"]
    command += ["-x", "-q", "-p", "no:randomly", "-p", "no:cacheprovider", "-n", "2", *tests]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    # A session of its own, so that the whole of it (timeout, pytest, its workers) can be
    # ended with this process: a kill of ``timeout`` alone leaves pytest running.
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    ) as child:
        try:
            stdout, _ = child.communicate()
        except BaseException:
            os.killpg(child.pid, signal.SIGKILL)
            raise
    failed = [
        line.split(" - ")[0]
        for line in stdout.decode(errors="replace").splitlines()
        if line.startswith(("FAILED ", "ERROR "))
    ]
    return child.returncode, failed[0] if failed else ""


def _chosen(
    args: argparse.Namespace, found: list[tuple[int, int, str, str]]
) -> Iterator[tuple[int, int, str, str]]:
    only = set(args.only.split(",")) if args.only else None
    picked = [s for s in found if only is None or s[2] in only]
    if args.sample and len(picked) > args.sample:
        picked = sorted(random.Random(args.seed).sample(picked, args.sample))
    yield from picked


def _stopped(signum: int, _frame: object) -> None:
    """SIGTERM or SIGHUP: end as Ctrl-C does, through ``finally``, so the module is put back.

    A run started in the background (``&``) ignores SIGINT, so TERM is how it is stopped.
    """
    raise SystemExit(128 + signum)


def main() -> int:
    """Run the mutants the arguments choose, one at a time."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("module")
    parser.add_argument("tests", nargs="*")
    parser.add_argument("--only", default="", help="function names, comma separated")
    parser.add_argument("--sample", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--index", default="", help="site indices, comma separated")
    parser.add_argument("--timeout", type=int, default=300)
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--log", default="")
    args = parser.parse_args()
    path = Path(args.module)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stopped)
    original = path.read_bytes()
    digest = hashlib.sha256(original).hexdigest()
    source = original.decode()
    found = sites(source)
    chosen = list(_chosen(args, found))
    if args.index:
        wanted = {int(i) for i in args.index.split(",")}
        chosen = [s for s in found if s[0] in wanted]
    if args.list:
        for index, line, func, what in chosen:
            print(f"{index:4d} {path.name}:{line} {func}: {what}")
        print(f"{len(chosen)} of {len(found)} sites")
        return 0
    for pyc in path.parent.glob(f"__pycache__/{path.stem}.*.pyc"):
        pyc.unlink()
    log = Path(args.log).open("a") if args.log else None  # noqa: SIM115
    survived = 0
    try:
        for index, line, func, what in chosen:
            path.write_text(mutant(source, index))
            started = time.monotonic()
            try:
                code, first = _run_tests(args.tests, args.timeout)
            finally:
                path.write_bytes(original)
            verdict = "survived" if code == 0 else "killed"
            survived += code == 0
            row = {
                "module": str(path),
                "index": index,
                "line": line,
                "function": func,
                "mutation": what,
                "verdict": verdict,
                "exit": code,
                "by": first,
                "seconds": round(time.monotonic() - started, 1),
            }
            print(json.dumps(row), flush=True)
            if log:
                print(json.dumps(row), file=log, flush=True)
    finally:
        path.write_bytes(original)
        if log:
            log.close()
    if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
        raise SystemExit(f"{path} was not restored byte for byte")
    print(f"{len(chosen)} mutants, {len(chosen) - survived} killed, {survived} survived")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
