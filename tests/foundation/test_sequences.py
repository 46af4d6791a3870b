"""Stored-sequence ranges and the acks built from them."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from hub.sequences import SequenceRanges


def test_merges_and_gaps():
    ranges = SequenceRanges()
    for seq in (1, 2, 3, 7, 8, 5, 10):
        ranges.add(seq)
    assert ranges.ranges == [[1, 3], [5, 5], [7, 8], [10, 10]]
    assert ranges.through == 3
    assert ranges.gaps() == [(4, 4), (6, 6), (9, 9)]
    ranges.add(4)
    ranges.add(6)
    assert ranges.ranges == [[1, 8], [10, 10]]
    ack = ranges.ack("s", "k")
    assert ack.through_seq == 8 and ack.ranges == [(10, 10)] and ack.gaps == [(9, 9)]


def test_nothing_from_one_means_through_zero():
    ranges = SequenceRanges()
    ranges.add(5)
    ack = ranges.ack("s", "k")
    assert ack.through_seq == 0 and ack.ranges == [(5, 5)] and not ack.covers(1) and ack.covers(5)


@given(st.lists(st.integers(min_value=1, max_value=300), max_size=200))
def test_ranges_hold_exactly_the_added_set(seqs):
    ranges = SequenceRanges()
    for seq in seqs:
        ranges.add(seq)
    expected = set(seqs)
    assert {s for first, last in ranges.ranges for s in range(first, last + 1)} == expected
    assert all(b[0] > a[1] + 1 for a, b in itertools.pairwise(ranges.ranges)), "ranges merged and ordered"
    ack = ranges.ack("s", "k", max_ranges=10_000)
    assert all(ack.covers(s) == (s in expected) for s in range(1, 302))
