"""The RCA timeline picture: a real PNG of sane size, whatever the counts and marks."""

from __future__ import annotations

import io
import struct
import zlib
from datetime import UTC, datetime, timedelta

import pytest

from skills.rca.timeline import BAR_COLOR, render_timeline

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
T0 = datetime(2024, 5, 1, tzinfo=UTC)


def _ihdr(png: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, after checking the signature and the chunk's CRC."""
    assert png[:8] == PNG_SIGNATURE
    length, kind = struct.unpack(">I4s", png[8:16])
    assert kind == b"IHDR" and length == 13
    data = png[16:16 + length]
    (crc,) = struct.unpack(">I", png[16 + length:20 + length])
    assert crc == zlib.crc32(kind + data)
    width, height = struct.unpack(">II", data[:8])
    assert png.endswith(b"IEND\xaeB`\x82")
    return width, height


def _bar_pixels(png: bytes) -> int:
    """How many pixels have the bars' colour (BAR_COLOR at 90% over white)."""
    from matplotlib import image

    img = image.imread(io.BytesIO(png), format="png")[..., :3]
    rgb = [int(BAR_COLOR[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    bar = [0.9 * c + 0.1 for c in rgb]
    close = abs(img - bar).max(axis=-1) < 4 / 255
    return int(close.sum())


def _hourly(n: int, start: datetime = T0) -> list[tuple[datetime, int]]:
    return [(start + timedelta(hours=h), (h * 37) % 50 + 1) for h in range(n)]


MARKS = [
    (T0 + timedelta(hours=5, minutes=40), "commit", "a1b2c3d alice"),
    (T0 + timedelta(hours=6, minutes=10), "release", "v2.3.1"),
    (T0 + timedelta(hours=7, minutes=5), "first_seen", "first seen"),
]


def test_a_png_of_slack_preview_size_with_bars():
    png = render_timeline(_hourly(24), marks=MARKS, title="ZeroDivisionError: division by zero")
    width, height = _ihdr(png)
    assert (width, height) == (1200, 540)
    assert 10_000 < len(png) < 1_000_000
    assert _bar_pixels(png) > 5_000


def test_zero_counts_show_the_marks_only():
    png = render_timeline([], marks=MARKS, title="KeyError: 'user_id'")
    assert _ihdr(png) == (1200, 540)
    assert _bar_pixels(png) == 0
    # and with nothing at all
    assert _ihdr(render_timeline([], marks=[], title="")) == (1200, 540)


def test_all_zero_and_single_counts():
    assert _bar_pixels(render_timeline([(T0, 0), (T0 + timedelta(hours=1), 0)], marks=[], title="z")) == 0
    png = render_timeline([(T0, 5)], marks=[], title="one bucket")
    assert _ihdr(png) == (1200, 540) and _bar_pixels(png) > 1_000


def test_marks_outside_the_range_and_odd_input():
    far = [
        (T0 - timedelta(days=90), "commit", "0011223 carol"),
        (T0 - timedelta(days=400), "release", "v0.1"),
        (T0 - timedelta(days=300), "commit", "4455667 dan"),
        (T0 - timedelta(days=200), "commit", "8899aab erin"),
        (T0 + timedelta(days=30), "deploy", "later deploy"),      # an unknown kind: drawn in grey
        (T0 + timedelta(hours=30), "commit", "ccddeef near but outside"),
    ]
    naive = [(datetime(2024, 5, 1, h), c) for h, c in ((1, 3), (2, 0), (4, 9))]   # naive = UTC
    png = render_timeline(naive, marks=MARKS + far + [(T0, "commit", "")], title="x" * 500)
    assert _ihdr(png) == (1200, 540)
    assert _bar_pixels(png) > 1_000


def test_many_crowded_marks_and_daily_buckets():
    days = [(T0 + timedelta(days=d), d * 10) for d in range(30)]
    crowded = [(T0 + timedelta(days=20, hours=i), "commit", f"{i:07x} developer-{i}") for i in range(12)]
    assert _ihdr(render_timeline(days, marks=crowded, title="crowded")) == (1200, 540)


def test_same_input_same_picture():
    a = render_timeline(_hourly(12), marks=MARKS, title="t")
    b = render_timeline(_hourly(12), marks=MARKS, title="t")
    assert a == b


@pytest.mark.parametrize("counts", [[(T0, -3)], [(T0, None)]])
def test_bad_counts_do_not_crash(counts):
    assert _ihdr(render_timeline(counts, marks=[], title="bad")) == (1200, 540)
