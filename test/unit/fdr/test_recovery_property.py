"""Crash and corruption properties of the reader: it never raises and recovers every intact frame.

(a) A segment cut at any byte recovers exactly the complete frames before the cut, and
reports a torn tail iff the cut falls inside a frame. (b) Random bytes overwritten with
garbage: every frame whose bytes are unchanged is recovered, and every issue lies inside
the file.
"""

from __future__ import annotations

import bisect
from pathlib import Path

import pytest
from factories import GEOFIX, IMU, ODOM, BuiltSegment, FlightBuilder, cdr_bytes, expected_entries
from hypothesis import given, settings
from hypothesis import strategies as st

from gps_denied_onboard.fdr import format as fmt
from gps_denied_onboard.fdr.reader import Problem, scan_segment

# Frame recipes: ("event", size) | ("ros", size) | ("topic", 0) | ("late_ros", size) | ("overrun", n)
RECIPE = st.lists(
    st.tuples(st.sampled_from(["event", "ros", "topic", "late_ros", "overrun"]), st.integers(0, 120)),
    min_size=1,
    max_size=10,
)


def build(tmp: Path, recipe: list[tuple[str, int]]) -> BuiltSegment:
    """One segment: header, then one frame per recipe step."""
    flight = FlightBuilder("prop")
    seg = flight.segment()
    for step, (what, size) in enumerate(recipe):
        if what == "event":
            seg.event(f"e{step}", {"pad": "x" * size})
        elif what == "ros":
            seg.ros(IMU if size % 2 else ODOM, cdr_bytes(step, size))
        elif what == "topic":
            seg.topic(GEOFIX)
        elif what == "late_ros":
            seg.ros(GEOFIX, cdr_bytes(step, size))  # unknown channel unless a topic frame came first
        else:
            seg.overrun("vio_node", size + 1)
    return flight.write(tmp).segments[0]


def check_cut(segment: BuiltSegment, cut: int) -> None:
    """Cut the segment at ``cut`` bytes and check what the reader recovers."""
    segment.path.write_bytes(segment.data[:cut])
    scan = scan_segment(segment.path)
    if cut < fmt.PREAMBLE_SIZE:
        assert scan.entries == []
        assert [(i.problem, i.offset) for i in scan.issues] == [(Problem.TORN_TAIL, 0)]  # cut inside the preamble
        return
    complete = [f for f in segment.frames if f.end <= cut]
    assert scan.entries == list(expected_entries(complete, {}))
    assert scan.good_bytes == (complete[-1].end if complete else fmt.PREAMBLE_SIZE)
    inside = next((f for f in segment.frames if f.offset < cut < f.end), None)
    unknown = [i for i in scan.issues if i.problem is Problem.UNKNOWN_CHANNEL]
    others = [i for i in scan.issues if i.problem is not Problem.UNKNOWN_CHANNEL]
    if inside is None:
        assert others == []
        assert scan.torn_tail is None
    else:
        assert [(i.problem, i.offset) for i in others] == [(Problem.TORN_TAIL, inside.offset)]
        assert others[0].detail == f"{cut - inside.offset} bytes of a cut frame"
    assert all(i.offset < cut for i in unknown)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One directory for every example (function-scoped tmp_path does not mix with @given)."""
    return tmp_path_factory.mktemp("recovery")


def test_a_cut_at_every_byte_recovers_exactly_the_complete_frames(workdir: Path) -> None:
    recipe = [("event", 5), ("ros", 33), ("topic", 0), ("late_ros", 17), ("overrun", 2), ("ros", 0), ("event", 0)]
    segment = build(workdir / "every", recipe)
    assert len(segment.frames) == 8
    for cut in range(len(segment.data) + 1):
        check_cut(segment, cut)


@settings(max_examples=200, deadline=None)
@given(recipe=RECIPE, where=st.floats(0.0, 1.0))
def test_a_cut_anywhere_in_any_segment_recovers_the_prefix(
    workdir: Path, recipe: list[tuple[str, int]], where: float
) -> None:
    segment = build(workdir / "cut", recipe)
    check_cut(segment, round(where * len(segment.data)))


@st.composite
def corruptions(draw: st.DrawFn, segment: BuiltSegment) -> list[tuple[int, bytes]]:
    """Ranges of random bytes to write over a segment past its preamble, often on a length field."""
    size = len(segment.data)
    out = []
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            # Length fields are where damage does the most: aim at one.
            frame = draw(st.sampled_from(segment.frames))
            start = min(frame.offset + draw(st.integers(0, fmt.LENGTH.size - 1)), size - 1)
        else:
            start = draw(st.integers(fmt.PREAMBLE_SIZE, size - 1))
        length = draw(st.integers(1, min(24, size - start)))
        out.append((start, draw(st.binary(min_size=length, max_size=length))))
    return out


@settings(max_examples=400, deadline=None)
@given(data=st.data(), recipe=RECIPE)
def test_garbage_anywhere_never_raises_and_intact_frames_are_recovered(
    workdir: Path, data: st.DataObject, recipe: list[tuple[str, int]]
) -> None:
    segment = build(workdir / "garbage", recipe)
    damaged = bytearray(segment.data)
    for start, garbage in data.draw(corruptions(segment)):
        damaged[start : start + len(garbage)] = garbage
    changed = [i for i, (a, b) in enumerate(zip(segment.data, damaged, strict=True)) if a != b]
    segment.path.write_bytes(damaged)

    scan = scan_segment(segment.path)

    size = len(damaged)
    for issue in scan.issues:
        assert fmt.PREAMBLE_SIZE <= issue.offset < size
        assert 0 <= issue.skipped_bytes <= size - issue.offset
    starts = [f.offset for f in segment.frames]
    intact = {
        i
        for i, f in enumerate(segment.frames)
        if bisect.bisect_left(changed, f.offset) == bisect.bisect_left(changed, f.end)
    }
    torn = scan.torn_tail
    # A torn tail means nothing whole follows, so it can only be reported after the last intact frame.
    assert torn is None or all(starts[i] < torn.offset for i in intact)
    assert scan.entries == list(expected_entries(segment.frames, {}, readable=intact))
    # Resync never jumps over an intact frame.
    for issue in scan.issues:
        if issue.skipped_bytes:
            assert not any(issue.offset < starts[i] < issue.offset + issue.skipped_bytes for i in intact)
    if not changed:  # garbage equal to what it overwrote: only a never-announced channel is a problem
        assert all(i.problem is Problem.UNKNOWN_CHANNEL for i in scan.issues)
