"""``LineCarry``: a file read in chunks, cut into lines, each line's pieces joined once.

Bug it holds: the readers of ``verify`` and ``report`` joined the line so far to each chunk
(``carry + chunk``) and split it again, so one line of many chunks was copied again with
every chunk: a 200 MB line took 30 s, a sparse 20 GB file longer than anyone waits.
"""

from __future__ import annotations

import itertools
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from livesession._support.wholelines import LineCarry

from _helpers import carried_chunks

# Lines short and long, so that a line often spans blocks (random bytes hold few line ends).
_TEXTS = st.lists(st.sampled_from([b"\n", b"ab", b"L" * 50, b"\r\n"]), max_size=30).map(b"".join)


def test_a_line_of_many_chunks_is_kept_in_pieces_until_it_ends() -> None:
    carry = LineCarry()

    for _ in range(1000):
        assert carry.lines(b"A" * 64) == []

    # nothing joined while the line goes on: one piece a chunk, no copy of what came before
    assert len(carry._pieces) == 1000
    assert carry.lines(b"B\nC") == [b"A" * 64_000 + b"B"]
    assert carry.rest() == b"C"


@given(data=_TEXTS | st.binary(max_size=300), cuts=st.lists(st.integers(0, 300), max_size=12))
def test_the_lines_are_those_of_the_whole_file_however_it_is_cut(
    data: bytes, cuts: list[int]
) -> None:
    points = sorted({0, len(data), *(c for c in cuts if c <= len(data))})
    carry = LineCarry()

    lines = [line for a, b in itertools.pairwise(points) for line in carry.lines(data[a:b])]

    *whole, tail = data.split(b"\n")
    assert lines == whole
    assert carry.rest() == tail


def test_the_record_check_before_a_resume_cuts_its_lines_through_the_carry(
    tmp_path, monkeypatch
) -> None:
    """The resume's record check read a file up to its checkpoint offset joining the line so
    far to each 4 MB block (a long line copied again with each): it cuts through LineCarry,
    every block once, and the lines and the torn-offset damage are as before."""
    import hashlib

    from livesession._rundir import beforecheckpoint

    fed = carried_chunks(beforecheckpoint, monkeypatch)
    monkeypatch.setattr(beforecheckpoint, "_BLOCK", 64)
    path = tmp_path / "events.jsonl"
    data = b"a\n" + b"L" * 10_000 + b"\nb\n"
    path.write_bytes(data + b"past the checkpoint\n")

    blocks = list(beforecheckpoint._lines(path, len(data), hashlib.sha256()))

    assert [line for block in blocks for line in block] == [b"a", b"L" * 10_000, b"b"]
    assert sum(fed) == len(data)
    assert max(fed) <= 64
    with pytest.raises(beforecheckpoint._Damage):  # an offset inside the long line
        list(beforecheckpoint._lines(path, 5_000, hashlib.sha256()))


@given(data=_TEXTS | st.binary(max_size=400), block=st.integers(1, 64))
def test_evidence_scans_blocks_of_whole_lines_however_long_a_line(
    data: bytes, block: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """evidence's secret scan reads blocks of whole lines: together they are the file, none
    is empty, each but the last ends a line, and the last ends one or holds none (a long
    line over many blocks is one block, kept in pieces and joined once, where the line so
    far was joined to each block)."""
    from livesession import evidence

    path = tmp_path_factory.mktemp("scan") / "f"
    path.write_bytes(data)

    with mock.patch.object(evidence, "_SCAN_BLOCK", block):
        blocks = list(evidence._line_blocks(path))

    assert b"".join(blocks) == data
    assert all(blocks)
    assert all(b.endswith(b"\n") for b in blocks[:-1])
    assert not blocks or blocks[-1].endswith(b"\n") or b"\n" not in blocks[-1]
