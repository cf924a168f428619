"""The RCA timeline picture: events over time, with suspect commits, releases and first-seen marked.

`render_timeline(counts, marks=..., title=...)` → PNG bytes, sized for Slack's inline preview
(1200×540 px; text stays legible when Slack scales it down to about half).

Drawn with matplotlib's object API on an Agg canvas (no pyplot, no global backend switch, no
display). Calls are serialised by a lock, so worker threads may call it. matplotlib is imported lazily, so importing this module
costs nothing.

- `counts`: (bucket start, events) pairs — the bucket width is their smallest spacing (1 h if one).
- `marks`: (when, kind, label) with kind "commit" | "release" | "first_seen" (anything else is drawn
  in grey); labels such as "a1b2c3d alice" or "v2.3.1". Marks a little outside the counts' range
  widen the chart; marks far outside it (more than 1.5× the range away) are listed at the edge
  with how much earlier/later they are, so the bars are not squeezed into a sliver.
- No counts: the marks alone on their own time range, with "no event counts" written across.
Times are shown in UTC; naive datetimes are taken as UTC.
"""

from __future__ import annotations

import io
import os
import threading
from datetime import UTC, datetime, timedelta

from integrations.redact import Redactor

__all__ = ["render_timeline", "KIND_STYLE"]

WIDTH_IN, HEIGHT_IN, DPI = 8.0, 3.6, 150          # → 1200 × 540 px
BAR_COLOR = "#6c5fc7"                             # Sentry's purple
KIND_STYLE: dict[str, tuple[str, str, str]] = {   # kind → (colour, line style, legend label)
    "first_seen": ("#d6336c", "-", "first seen"),
    "commit": ("#e8590c", "--", "suspect commit"),
    "release": ("#2b8a3e", "-", "release"),
}
OTHER_STYLE = ("#868e96", ":", "other")
MAX_LEVELS = 4            # label rows at the top of the plot
LABEL_MAX = 28            # characters of a mark's label
FAR = 1.5                 # marks further than FAR × the counts' span go to the edge list
LABEL_PT = 9.0
_LOCK = threading.Lock()


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _clip(text: str, n: int) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _ago(delta: timedelta) -> str:
    s = abs(delta.total_seconds())
    if s >= 2 * 86400:
        return f"{s / 86400:.0f} d"
    if s >= 2 * 3600:
        return f"{s / 3600:.0f} h"
    return f"{max(1, round(s / 60))} min"


def _bucket_name(step: timedelta) -> str:
    s = step.total_seconds()
    for seconds, name in ((60, "minute"), (3600, "hour"), (86400, "day"), (604800, "week")):
        if abs(s - seconds) <= seconds * 0.05:
            return name
    return _ago(step).replace(" ", "")


def render_timeline(counts: list[tuple[datetime, int]], *, marks: list[tuple[datetime, str, str]] = (),
                    title: str = "", redact=None) -> bytes:
    """PNG bytes of the events-over-time chart with vertical marks (see the module docstring).

    Every text is redacted before it is drawn (a pattern-only redactor when none is given), and the
    drawn texts are also stored in the PNG's `Description` (alt text, and what tests read back).
    """
    redact = redact or Redactor()
    marks = [(when, kind, redact(label)) for when, kind, label in marks]
    with _LOCK:  # matplotlib does not promise thread safety; a render takes ~0.2 s
        return _render(counts, marks, redact(title))


def drawn_texts(png: bytes) -> str:
    """The texts drawn in a timeline PNG, as stored in its `Description`."""
    from PIL import Image
    with Image.open(io.BytesIO(png)) as image:
        return image.info.get("Description", "")


def _render(counts, marks, title) -> bytes:
    os.environ.setdefault("MPLBACKEND", "Agg")
    from matplotlib import dates as mdates
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.transforms import blended_transform_factory, offset_copy

    series = sorted(((_utc(t), max(0, int(c or 0))) for t, c in counts or () if t is not None),
                    key=lambda x: x[0])
    all_marks = sorted(((_utc(t), str(kind or ""), str(label or "")) for t, kind, label in marks or ()
                        if t is not None), key=lambda m: m[0])

    # ---- the time range
    if len(series) >= 2:
        gaps = [b[0] - a[0] for a, b in zip(series, series[1:], strict=False) if b[0] > a[0]]
        step = min(gaps) if gaps else timedelta(hours=1)           # buckets are contiguous
    else:
        step = timedelta(hours=1)
    if series:
        lo, hi = series[0][0], series[-1][0] + step
        span = hi - lo
        near = [m for m in all_marks if lo - FAR * span <= m[0] <= hi + FAR * span]
        far = [m for m in all_marks if m not in near]
        if near:
            lo, hi = min(lo, near[0][0]), max(hi, near[-1][0])
    else:
        near, far = all_marks, []
        if near:
            lo, hi = near[0][0], near[-1][0]
        else:
            hi = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
            lo = hi - timedelta(hours=24)
    least = max(timedelta(hours=1), 4 * step) if series else timedelta(hours=1)
    if hi - lo < least:
        mid = lo + (hi - lo) / 2
        lo, hi = mid - least / 2, mid + least / 2
    pad = (hi - lo) * 0.04
    lo, hi = lo - pad, hi + pad

    # ---- the figure
    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, facecolor="white")
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.075, 0.15, 0.905, 0.65))
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#adb5bd")
    ax.tick_params(colors="#495057", labelsize=9, length=3)
    ax.grid(axis="y", color="#e9ecef", linewidth=0.8)
    ax.set_axisbelow(True)

    total = sum(c for _, c in series)
    peak = max((c for _, c in series), default=0)
    if series:
        ax.bar([mdates.date2num(t) for t, _ in series], [c for _, c in series],
               width=(step / timedelta(days=1)) * 0.85, align="edge", color=BAR_COLOR, alpha=0.9,
               linewidth=0, zorder=2)
    if not series or peak == 0:
        ax.text(0.5, 0.42, "no event counts" if not series else "no events in this period",
                transform=ax.transAxes, ha="center", va="center", fontsize=13, color="#868e96",
                style="italic", zorder=1)

    # label rows: first seen, then releases, then the rest in the order given (a caller passes
    # suspect commits best first); each label goes to the first row where it overlaps no other
    # label; a label that fits nowhere is left out (its line is still drawn).
    axes_px = WIDTH_IN * DPI * 0.905
    char_frac = LABEL_PT * 0.62 * DPI / 72 / axes_px            # ≈ one character of a bold label
    gap_frac = 4 * DPI / 72 / axes_px                          # the 3 pt offset from the line, + 1
    span_days = (hi - lo) / timedelta(days=1)
    taken: list[list[tuple[float, float]]] = [[] for _ in range(MAX_LEVELS)]
    placed: dict[int, tuple[int, str, str]] = {}                # index in `near` → row, ha, text
    order = sorted(range(len(near)), key=lambda i: {"first_seen": 0, "release": 1}.get(near[i][1], 2))
    for i in order:
        when, kind, label = near[i]
        x = (when - lo) / timedelta(days=1) / span_days
        text = _clip(label, LABEL_MAX) or kind.replace("_", " ")
        width = len(text) * char_frac + gap_frac
        ha, start = ("left", x) if x + width <= 1.0 else ("right", x - width)
        end = start + width + char_frac / 2
        row = next((r for r in range(MAX_LEVELS)
                    if all(end <= a or start >= b for a, b in taken[r])), None)
        if row is not None:
            taken[row].append((start, end))
            placed[i] = (row, ha, text)
    rows = 1 + max((p[0] for p in placed.values()), default=-1)
    top_frac = 1.0 - 0.11 * rows - (0.04 if rows else 0)         # the bars stay below the labels
    ax.set_ylim(0, max(peak, 1) / top_frac * 1.02)
    ax.set_xlim(mdates.date2num(lo), mdates.date2num(hi))

    kinds_seen: list[str] = []
    trans = blended_transform_factory(ax.transData, ax.transAxes)
    for i, (when, kind, _) in enumerate(near):
        color, style, _ = KIND_STYLE.get(kind, OTHER_STYLE)
        xd = mdates.date2num(when)
        row, ha, text = placed.get(i, (None, "", ""))
        y = 0.975 - 0.11 * row if row is not None else top_frac
        ax.plot([xd, xd], [0, y], transform=trans, color=color, linestyle=style,
                linewidth=1.8 if kind == "first_seen" else 1.4, zorder=3, clip_on=False)
        if row is not None:
            shifted = offset_copy(trans, fig=fig, x=3 if ha == "left" else -3, y=0, units="points")
            ax.text(xd, y, text, transform=shifted, ha=ha, va="top", fontsize=LABEL_PT, color=color,
                    fontweight="bold", zorder=6,
                    bbox={"boxstyle": "square,pad=0.12", "facecolor": "white", "edgecolor": "none",
                          "alpha": 0.9})
        if kind not in kinds_seen:
            kinds_seen.append(kind)

    # marks too far away to draw to scale: listed at the edge they are beyond
    for edge, group in (("left", [m for m in far if m[0] < lo]), ("right", [m for m in far if m[0] > hi])):
        lines = []
        for when, kind, label in group[-3:] if edge == "left" else group[:3]:
            ref = lo + pad if edge == "left" else hi - pad
            arrow = "◀ " if edge == "left" else ""
            tail = " ▶" if edge == "right" else ""
            when_txt = f"{_ago(when - ref)} {'earlier' if edge == 'left' else 'later'}"
            lines.append((f"{arrow}{_clip(label, 22) or kind} · {when_txt}{tail}", kind))
        extra = len(group) - len(lines)
        if extra > 0:
            lines.append((f"(+{extra} more)", ""))
        for i, (text, kind) in enumerate(lines):
            color = KIND_STYLE.get(kind, OTHER_STYLE)[0]
            ax.text(0.005 if edge == "left" else 0.995, 0.5 - 0.085 * i, text, transform=ax.transAxes,
                    ha=edge, va="center", fontsize=8.5, color=color, zorder=5,
                    bbox={"boxstyle": "round,pad=0.25", "facecolor": "white", "edgecolor": color,
                          "linewidth": 0.6, "alpha": 0.9})
            if kind and kind not in kinds_seen:
                kinds_seen.append(kind)

    # ---- axes, title, legend
    locator = mdates.AutoDateLocator(tz=UTC, minticks=4, maxticks=9)
    ax.xaxis.set_major_locator(locator)
    formatter = mdates.ConciseDateFormatter(locator, tz=UTC)
    formatter.offset_formats = ["UTC", "%Y UTC", "%b %Y UTC", "%d %b %Y UTC", "%d %b %Y UTC",
                                "%d %b %Y %H:%M UTC"]
    ax.xaxis.set_major_formatter(formatter)
    ax.xaxis.get_offset_text().set(fontsize=8.5, color="#868e96")
    if peak:
        ax.yaxis.get_major_locator().set_params(integer=True, nbins=4)
    else:
        ax.set_yticks([0])                                       # a 0..1 scale would mean nothing

    head = fig.text(0.075, 0.935, _clip(title, 90) or "Events over time", fontsize=12.5,
                    fontweight="bold", color="#212529", ha="left", va="center")
    renderer = fig.canvas.get_renderer()
    room = WIDTH_IN * DPI * (0.98 - 0.075)
    text = head.get_text()
    while len(text) > 10 and head.get_window_extent(renderer).width > room:
        text = _clip(text, len(text) - 4)                        # ends with "…"
        head.set_text(text)
    if series:
        sub = f"events per {_bucket_name(step)} · {total:,} in total · peak {peak:,}"
    else:
        sub = "no event counts" + (" · marks only" if all_marks else "")
    fig.text(0.075, 0.865, sub, fontsize=9.5, color="#495057", ha="left", va="center")
    if kinds_seen:
        handles = [Line2D([], [], color=KIND_STYLE.get(k, OTHER_STYLE)[0],
                          linestyle=KIND_STYLE.get(k, OTHER_STYLE)[1], linewidth=1.6)
                   for k in kinds_seen]
        labels = [KIND_STYLE.get(k, OTHER_STYLE)[2] if k in KIND_STYLE else (k or "other").replace("_", " ")
                  for k in kinds_seen]
        fig.legend(handles, labels, loc="center right", bbox_to_anchor=(0.98, 0.865), ncol=len(handles),
                   fontsize=9, frameon=False, handlelength=1.8, columnspacing=1.2, handletextpad=0.5)

    from matplotlib.text import Text
    drawn = "\n".join(t.get_text() for t in fig.findobj(Text) if t.get_visible() and t.get_text())
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white",
                metadata={"Software": None, "Description": drawn})
    return buf.getvalue()
