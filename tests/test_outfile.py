"""``write_output``: a tool's output written through a symlink, never over it.

``report --output /dev/stdout`` (and ``prom``) replaced the /dev/stdout symlink with a
regular file holding the output, as root for every process on the machine: the atomic
write renamed its temporary file over the link. The link is followed now, and stays. No
test here names /dev/stdout: links in ``tmp_path`` to a file, a FIFO, a pipe stand for it.
"""

from __future__ import annotations

import os
import socket
import stat
import threading
from pathlib import Path

import pytest

from livesession._support.fsutil import NotAFile
from livesession._support.outfile import output_target, own_descriptor, write_output

_POSIX = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs and symlinks")
_PROC_FDS = pytest.mark.skipif(
    not Path(f"/proc/{os.getpid()}/fd").is_dir(), reason="descriptors under /proc/self/fd"
)


def _names(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def test_a_plain_path_is_replaced_as_before(tmp_path: Path) -> None:
    out = tmp_path / "out.prom"
    out.write_bytes(b"old, and longer than the new text")
    write_output(out, b"new\n")
    assert out.read_bytes() == b"new\n"
    assert output_target(out) == out
    assert _names(tmp_path) == ["out.prom"]


@_POSIX
def test_a_symlink_to_a_file_stays_and_the_file_gets_the_text(tmp_path: Path) -> None:
    real = tmp_path / "data" / "real.prom"
    real.parent.mkdir()
    real.write_bytes(b"old\n")
    link = tmp_path / "link.prom"
    link.symlink_to(Path("data") / "real.prom")  # relative, as `ln -s` makes them

    write_output(link, b"metric 1\n")

    assert link.is_symlink()
    assert link.readlink() == Path("data") / "real.prom"
    assert real.read_bytes() == b"metric 1\n"
    assert output_target(link) == real.resolve()
    assert _names(tmp_path) == ["data", "link.prom"]
    assert _names(real.parent) == ["real.prom"]  # the temporary file was beside the target


@_POSIX
def test_a_chain_of_links_and_a_link_to_nothing_yet(tmp_path: Path) -> None:
    (tmp_path / "first").symlink_to("second")
    (tmp_path / "second").symlink_to("made.html")

    write_output(tmp_path / "first", b"<html>\n")  # created, as `>` creates a link's target

    assert (tmp_path / "made.html").read_bytes() == b"<html>\n"
    assert (tmp_path / "first").is_symlink()
    assert (tmp_path / "second").is_symlink()


@_POSIX
def test_a_symlink_to_a_fifo_is_written_through(tmp_path: Path) -> None:
    fifo = tmp_path / "collector"
    os.mkfifo(fifo)
    link = tmp_path / "out.prom"
    link.symlink_to(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader there: no waiting
    try:
        write_output(link, b"metric 1\n")
        assert os.read(reader, 100) == b"metric 1\n"
    finally:
        os.close(reader)
    assert output_target(link) is None
    assert link.is_symlink()
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert _names(tmp_path) == ["collector", "out.prom"]


@_POSIX
def test_a_fifo_with_its_reader_coming_later_gets_all_of_it(tmp_path: Path) -> None:
    """As ``> fifo`` does: the write waits for the reader, then gives it every byte."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link = tmp_path / "link"
    link.symlink_to(fifo)
    text = b"x" * (1 << 18)  # more than a pipe holds: written in several parts
    got: list[bytes] = []

    def read() -> None:
        with fifo.open("rb") as stream:
            got.append(stream.read())

    reader = threading.Thread(target=read)
    reader.start()
    write_output(link, text)
    reader.join(timeout=30)
    assert got == [text]


@_POSIX
@_PROC_FDS
def test_a_symlink_to_a_pipe_of_this_process_is_written_through(tmp_path: Path) -> None:
    """``/dev/stdout`` is a link to ``/proc/self/fd/1``: here, a link to a pipe's end."""
    read_end, write_end = os.pipe()
    try:
        link = tmp_path / "stdout"
        link.symlink_to(f"/proc/self/fd/{write_end}")
        assert own_descriptor(link) == write_end
        assert output_target(link) is None

        write_output(link, b"metric 1\n")

        assert os.read(read_end, 100) == b"metric 1\n"
        assert link.is_symlink()
        assert link.readlink() == Path(f"/proc/self/fd/{write_end}")
        assert _names(tmp_path) == ["stdout"]
    finally:
        os.close(read_end)
        os.close(write_end)


@_POSIX
@_PROC_FDS
def test_a_descriptor_on_a_file_is_written_where_it_stands(tmp_path: Path) -> None:
    """``{ echo header; livesession prom RUN --output /dev/stdout; } >> file``: the text
    follows what the descriptor wrote before; renaming a file over it would drop that."""
    appended = tmp_path / "appended.prom"
    appended.write_bytes(b"# kept\n")
    fd = os.open(appended, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, b"# header\n")
        link = tmp_path / "stdout"
        link.symlink_to(f"/proc/self/fd/{fd}")
        before = appended.stat().st_ino

        write_output(link, b"metric 1\n")
    finally:
        os.close(fd)
    assert appended.read_bytes() == b"# kept\n# header\nmetric 1\n"
    assert appended.stat().st_ino == before


@_POSIX
def test_a_symlink_to_a_socket_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s"
    link = tmp_path / "link"
    link.symlink_to(path)
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        with pytest.raises(NotAFile) as caught:
            write_output(link, b"x")
    assert caught.value.filename == str(link)
    assert stat.S_ISSOCK(os.lstat(path).st_mode)
    assert link.is_symlink()


@_POSIX
def test_a_symlink_loop_is_an_error_that_names_the_path(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    with pytest.raises(OSError, match="Too many levels of symbolic links") as caught:
        write_output(tmp_path / "a", b"x")
    assert caught.value.filename == str(tmp_path / "a")
    assert _names(tmp_path) == ["a", "b"]


@pytest.mark.parametrize("where", ["", "/"])
def test_a_path_with_no_name_is_a_directory(tmp_path: Path, where: str) -> None:
    """``write_report(run, "")`` (or ``"/"``) raised ``ValueError: PosixPath('.') has an
    empty name`` from deep inside the atomic write, where an output that is a directory is
    ``IsADirectoryError`` naming it, as for any other directory (the CLI refuses an empty
    ``--output`` before it gets here)."""
    from livesession.report import write_report

    with pytest.raises(IsADirectoryError) as info:
        write_output(where, b"text\n")
    assert info.value.filename == str(Path(where))
    with pytest.raises(IsADirectoryError):
        write_report(tmp_path / "no-run", where)
    assert _names(tmp_path) == []


@_POSIX
@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="chown: root only")
def test_a_link_another_user_planted_in_a_shared_sticky_directory_is_refused(
    tmp_path: Path,
) -> None:
    """A link in ``/tmp`` (sticky, world-writable) owned by someone else is not followed.

    Found trying ``report --output /tmp/r.html`` where another user had put ``/tmp/r.html
    -> ~/.bashrc``: the reviewer's file was replaced by the report. The shell's ``>``
    would have been refused (``Permission denied``) by Linux's ``fs.protected_symlinks``,
    which the tool's own reading of the link went round. Refused the same way now, nothing
    written; the reviewer's own link there, and one in a directory not shared, still work.
    """
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    victim = tmp_path / "home" / "victim.txt"
    victim.parent.mkdir()
    victim.write_bytes(b"precious\n")
    planted = shared / "r.html"
    planted.symlink_to(victim)
    os.lchown(planted, 12345, 12345)
    dangling = shared / "d.html"
    dangling.symlink_to(tmp_path / "home" / "new.txt")
    os.lchown(dangling, 12345, 12345)

    for link in (planted, dangling):
        with pytest.raises(PermissionError, match="another user's symlink in a shared"):
            write_output(link, b"<html>\n")
        with pytest.raises(PermissionError):
            output_target(link)
    assert victim.read_bytes() == b"precious\n"
    assert _names(victim.parent) == ["victim.txt"]

    mine = shared / "mine.html"
    mine.symlink_to(victim)  # the reviewer's own link (root's here)
    write_output(mine, b"mine\n")
    assert victim.read_bytes() == b"mine\n"
    private = tmp_path / "private.html"
    private.symlink_to(victim)
    os.lchown(private, 12345, 12345)  # another's link, but in a directory not shared
    write_output(private, b"private\n")
    assert victim.read_bytes() == b"private\n"
