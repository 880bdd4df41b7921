"""``LineCarry``: a file read in chunks, cut into lines, each line's pieces joined once.

Bug it holds: the readers of ``verify`` and ``report`` joined the line so far to each chunk
(``carry + chunk``) and split it again, so one line of many chunks was copied again with
every chunk: a 200 MB line took 30 s, a sparse 20 GB file longer than anyone waits.
"""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from livesession._support.wholelines import LineCarry


def test_a_line_of_many_chunks_is_kept_in_pieces_until_it_ends() -> None:
    carry = LineCarry()

    for _ in range(1000):
        assert carry.lines(b"A" * 64) == []

    # nothing joined while the line goes on: one piece a chunk, no copy of what came before
    assert len(carry._pieces) == 1000
    assert carry.lines(b"B\nC") == [b"A" * 64_000 + b"B"]
    assert carry.rest() == b"C"


@given(data=st.binary(max_size=300), cuts=st.lists(st.integers(0, 300), max_size=12))
def test_the_lines_are_those_of_the_whole_file_however_it_is_cut(
    data: bytes, cuts: list[int]
) -> None:
    points = sorted({0, len(data), *(c for c in cuts if c <= len(data))})
    carry = LineCarry()

    lines = [line for a, b in itertools.pairwise(points) for line in carry.lines(data[a:b])]

    *whole, tail = data.split(b"\n")
    assert lines == whole
    assert carry.rest() == tail
