"""Durable file helpers: atomic replacement, directory fsync, cutting a torn tail aside."""

from __future__ import annotations

import errno
import os
import stat
import sys
from pathlib import Path

import pytest

from livesession._support import fsutil as _fsutil
from livesession._support.fsutil import atomic_write_bytes, fsync_dir
from livesession._support.torn import torn_path, truncate_to


@pytest.fixture(name="target")
def _target(tmp_path):
    return tmp_path / "checkpoint.json"


def _names(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


class TestAtomicWriteBytes:
    """atomic_write_bytes leaves the old or the new file, and no temporary file."""

    def test_creates_file(self, target, tmp_path):
        """A new file holds exactly the data, with no temporary file beside it."""
        atomic_write_bytes(target, b'{"step":1}\n')
        assert target.read_bytes() == b'{"step":1}\n'
        assert _names(tmp_path) == ["checkpoint.json"]

    def test_replaces_file(self, target, tmp_path):
        """An existing file is replaced whole."""
        target.write_bytes(b"old content that is longer")
        atomic_write_bytes(target, b"new")
        assert target.read_bytes() == b"new"
        assert _names(tmp_path) == ["checkpoint.json"]

    def test_accepts_str_path(self, target):
        """A str path works like a Path."""
        atomic_write_bytes(str(target), b"x")
        assert target.read_bytes() == b"x"

    def test_failed_fsync_keeps_old_and_no_tmp(self, target, tmp_path, monkeypatch):
        """When fsync fails, the error propagates, the old file stays, no tmp is left."""
        target.write_bytes(b"old")

        def failing_fsync(fd):
            raise OSError(5, "Input/output error")

        monkeypatch.setattr(os, "fsync", failing_fsync)
        with pytest.raises(OSError, match="Input/output"):
            atomic_write_bytes(target, b"new")
        monkeypatch.undo()
        assert target.read_bytes() == b"old"
        assert _names(tmp_path) == ["checkpoint.json"]

    def test_failed_rename_keeps_old_and_no_tmp(self, target, tmp_path, monkeypatch):
        """When the rename fails, the old file stays and no tmp is left."""
        target.write_bytes(b"old")

        def failing_replace(self, other):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(Path, "replace", failing_replace)
        with pytest.raises(PermissionError):
            atomic_write_bytes(target, b"new")
        monkeypatch.undo()
        assert target.read_bytes() == b"old"
        assert _names(tmp_path) == ["checkpoint.json"]

    def test_bad_data_leaves_nothing(self, target, tmp_path):
        """Data that cannot be written leaves no file at all."""
        with pytest.raises(TypeError):
            atomic_write_bytes(target, "not bytes")
        assert _names(tmp_path) == []

    def test_missing_directory(self, tmp_path):
        """A missing parent directory raises FileNotFoundError naming it; nothing created."""
        with pytest.raises(FileNotFoundError) as caught:
            atomic_write_bytes(tmp_path / "gone" / "x.json", b"x")
        assert caught.value.filename == str(tmp_path / "gone")  # not the temporary file
        assert _names(tmp_path) == []

    def test_a_refused_temporary_file_is_said_of_the_file(self, target, tmp_path, monkeypatch):
        """A read-only directory refuses the temporary file: the error names the target."""
        real_open = os.open

        def read_only(path, flags, *args, **kwargs):
            if str(path).endswith(".tmp"):
                raise OSError(errno.EROFS, "Read-only file system", str(path))
            return real_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", read_only)
        with pytest.raises(OSError, match="Read-only file system") as caught:
            atomic_write_bytes(target, b"x")
        assert caught.value.errno == errno.EROFS
        assert caught.value.filename == str(target)  # not .checkpoint.json.<pid>.<n>.tmp
        monkeypatch.undo()
        assert _names(tmp_path) == []

    def test_a_directory_in_the_way(self, tmp_path):
        """A directory where the file belongs is named as such; nothing is created."""
        (tmp_path / "out.html").mkdir()
        with pytest.raises(IsADirectoryError) as caught:
            atomic_write_bytes(tmp_path / "out.html", b"x")
        assert caught.value.filename == str(tmp_path / "out.html")
        assert _names(tmp_path) == ["out.html"]

    def test_leftover_tmp_name_is_skipped(self, target, tmp_path, monkeypatch):
        """A leftover temporary file with the next name is neither clobbered nor fatal."""
        monkeypatch.setattr(_fsutil, "_TMP_SEQUENCE", iter([0, 1]))
        leftover = tmp_path / f".checkpoint.json.{os.getpid()}.0.tmp"
        leftover.write_bytes(b"from a dead process")
        atomic_write_bytes(target, b"new")
        assert target.read_bytes() == b"new"
        assert leftover.read_bytes() == b"from a dead process"

    def test_directory_is_synced(self, target, tmp_path, monkeypatch):
        """The directory holding the file is fsynced after the rename."""
        synced = []
        monkeypatch.setattr(_fsutil, "fsync_dir", synced.append)
        atomic_write_bytes(target, b"x")
        assert synced == [tmp_path]

    @pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
    def test_new_file_mode_follows_umask(self, target):
        """A new file gets the usual permissions (0o666 less the umask), not 0o600."""
        old = os.umask(0o022)
        try:
            atomic_write_bytes(target, b"x")
        finally:
            os.umask(old)
        assert stat.S_IMODE(target.stat().st_mode) == 0o644


_ROOT = getattr(os, "geteuid", lambda: -1)() == 0


class TestSpecialTargets:
    """``report RUN --output /dev/null`` (and ``prom``) put a regular file in the place of
    /dev/null: the rename of the temporary file replaced the device node (as root it was
    gone for every process on the machine). A FIFO or a character device is written to,
    never replaced; a block device or a socket is refused; a symlink is still replaced."""

    @pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
    def test_a_fifo_is_written_to_and_stays_a_fifo(self, tmp_path):
        fifo = tmp_path / "out.prom"
        os.mkfifo(fifo)
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader there: no waiting
        try:
            atomic_write_bytes(fifo, b"metric 1\n")
            assert os.read(reader, 100) == b"metric 1\n"
        finally:
            os.close(reader)
        assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
        assert _names(tmp_path) == ["out.prom"]  # no temporary file left beside it

    @pytest.mark.skipif(not _ROOT, reason="mknod of a device needs root")
    def test_a_character_device_is_written_to_and_stays_a_device(self, tmp_path):
        null = tmp_path / "null"
        os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # what /dev/null is
        atomic_write_bytes(null, b"discarded")
        assert stat.S_ISCHR(os.lstat(null).st_mode)
        assert os.lstat(null).st_rdev == os.makedev(1, 3)
        assert _names(tmp_path) == ["null"]

    @pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX sockets")
    def test_a_socket_is_refused_and_stays(self, tmp_path):
        import socket

        path = tmp_path / "s"
        with socket.socket(socket.AF_UNIX) as server:
            server.bind(str(path))
            with pytest.raises(_fsutil.NotAFile) as caught:
                atomic_write_bytes(path, b"x")
        assert caught.value.filename == str(path)
        assert caught.value.strerror == "not a regular file (a socket): nothing is written to it"
        assert stat.S_ISSOCK(os.lstat(path).st_mode)
        assert _names(tmp_path) == ["s"]

    @pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
    def test_a_symlink_to_a_fifo_is_replaced_as_before(self, tmp_path):
        """The link is replaced, never written through: what it points to is left alone."""
        os.mkfifo(tmp_path / "fifo")
        (tmp_path / "link").symlink_to(tmp_path / "fifo")
        atomic_write_bytes(tmp_path / "link", b"x")
        assert (tmp_path / "link").read_bytes() == b"x"
        assert not (tmp_path / "link").is_symlink()
        assert stat.S_ISFIFO(os.lstat(tmp_path / "fifo").st_mode)

    def test_a_file_there_is_replaced_by_a_new_one(self, target):
        """A regular file is still replaced (a new inode), not written into."""
        target.write_bytes(b"old")
        before = target.stat().st_ino
        atomic_write_bytes(target, b"new")
        assert target.read_bytes() == b"new"
        assert target.stat().st_ino != before


class TestFsyncDir:
    """fsync_dir syncs a directory."""

    def test_syncs_directory(self, tmp_path):
        """Syncing an existing directory succeeds."""
        fsync_dir(tmp_path)

    def test_missing_directory(self, tmp_path):
        """A missing directory raises FileNotFoundError."""
        with pytest.raises(FileNotFoundError):
            fsync_dir(tmp_path / "gone")


class TestTruncateTo:
    """truncate_to cuts a file back and keeps the cut tail in <file>.torn."""

    @pytest.fixture(name="log")
    def _log(self, tmp_path):
        path = tmp_path / "events.jsonl"
        path.write_bytes(b'{"seq":1}\n{"seq":2}\n{"se')
        return path

    def test_cuts_and_keeps_tail(self, log):
        """The file ends at the offset and the tail goes to .torn and is returned."""
        tail = truncate_to(log, 20)
        assert tail == b'{"se'
        assert log.read_bytes() == b'{"seq":1}\n{"seq":2}\n'
        assert torn_path(log).read_bytes() == b'{"se'

    def test_torn_path(self, log):
        """The torn file sits next to the original with .torn appended to its name."""
        assert torn_path(log) == log.with_name("events.jsonl.torn")

    def test_appends_to_existing_torn(self, log):
        """A second cut appends to the .torn file."""
        truncate_to(log, 20)
        truncate_to(log, 10)
        assert log.read_bytes() == b'{"seq":1}\n'
        assert torn_path(log).read_bytes() == b'{"se{"seq":2}\n'

    def test_offset_at_end_changes_nothing(self, log):
        """Cutting at the current size returns b'' and creates no .torn file."""
        size = log.stat().st_size
        assert truncate_to(log, size) == b""
        assert log.stat().st_size == size
        assert not torn_path(log).exists()

    def test_cut_to_zero(self, log):
        """Cutting to zero moves the whole file aside."""
        content = log.read_bytes()
        assert truncate_to(log, 0) == content
        assert log.read_bytes() == b""
        assert torn_path(log).read_bytes() == content

    @pytest.mark.parametrize("offset", [-1, 10_000, 1.5, True])
    def test_bad_offset(self, log, offset):
        """An offset outside the file (or not an int) raises ValueError and cuts nothing."""
        before = log.read_bytes()
        with pytest.raises(ValueError, match="cannot truncate"):
            truncate_to(log, offset)
        assert log.read_bytes() == before
        assert not torn_path(log).exists()

    def test_missing_file(self, tmp_path):
        """A missing file raises FileNotFoundError."""
        with pytest.raises(FileNotFoundError):
            truncate_to(tmp_path / "gone.jsonl", 0)

    def test_tail_is_durable_before_cut(self, log, monkeypatch):
        """The tail is fsynced into .torn before the original file is fsynced shorter."""
        order = []
        real_fsync = os.fsync

        def recording_fsync(fd):
            order.append(os.fstat(fd).st_size)
            real_fsync(fd)

        monkeypatch.setattr(os, "fsync", recording_fsync)
        truncate_to(log, 20)
        # First the 4-byte .torn file, then the 20-byte log (then its directory).
        assert order[:2] == [4, 20]


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads /proc/self/fd")
def test_a_refused_tail_leaves_an_older_torn_file_as_it_was(tmp_path, monkeypatch):
    """A ``.torn`` file from an earlier cut keeps its bytes when the next tail is refused
    (a full disk): it is truncated back, never removed, and the file keeps its tail."""
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"kept\ncut tail")
    torn_path(path).write_bytes(b"an earlier tail")
    real_write = os.write

    def refusing(fd: int, data: object) -> int:
        if Path(f"/proc/self/fd/{fd}").readlink().name.endswith(".torn"):
            real_write(fd, b"half")  # part of it went out before the disk filled
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "write", refusing)
    with pytest.raises(OSError, match="No space left"):
        truncate_to(path, 5)
    monkeypatch.undo()
    assert torn_path(path).read_bytes() == b"an earlier tail"
    assert path.read_bytes() == b"kept\ncut tail"
