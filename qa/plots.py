"""Inline SVG plots for the job report: pure functions, numbers in, markup out.

No plotting library: a report page must open anywhere, offline, and a producer's browser is
the only renderer. Every coordinate is clamped into the plot area, non-finite values (silence
reads as -inf LUFS) break a line instead of bending it, and an empty series draws an empty
frame that says so. Colours are attributes, so an SVG also reads outside the page.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

W, H = 480, 200  # viewBox of the time plots
PAD_L, PAD_R, PAD_T, PAD_B = 46, 10, 22, 26  # room for tick labels and the legend
INK, GRID, MUTED = "#24292f", "#d0d7de", "#57606a"
BLUE, ORANGE, GREEN = "#0969da", "#bc4c00", "#1a7f37"
FONT = 'font-family="system-ui,sans-serif" font-size="11"'
NICE_STEPS = (0.5, 1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 1200)

Point = tuple[float, ...]


def finite(points: Iterable[Sequence[float]]) -> list[Point]:
    """The points whose every value is finite (drops -inf LUFS, NaN positions)."""
    return [tuple(float(v) for v in p) for p in points if all(math.isfinite(v) for v in p)]


def thin(points: Iterable[Sequence[float]], hz: float = 2.0) -> list[Point]:
    """At most ``hz`` points per second: the first finite point of each 1/hz bin of ``t``.

    Picks measured samples rather than averaging them, so a hard cut stays a cut.
    """
    if hz <= 0:
        raise ValueError(f"thin(hz={hz}): expected a positive rate")
    out: list[Point] = []
    last_bin: int | None = None
    for p in finite(points):
        b = math.floor(p[0] * hz + 1e-9)
        if b != last_bin:
            out.append(p)
            last_bin = b
    return out


def nice_step(span: float, max_ticks: int = 6) -> float:
    """The smallest 'round' tick step giving at most ``max_ticks`` intervals over ``span``."""
    for step in NICE_STEPS:
        if span / step <= max_ticks:
            return float(step)
    return float(10 ** math.ceil(math.log10(max(span, 1e-9) / max_ticks)))


def _ticks(lo: float, hi: float, max_ticks: int = 6) -> list[float]:
    step = nice_step(hi - lo, max_ticks)
    first = math.ceil(lo / step - 1e-9) * step
    n = int(math.floor((hi - first) / step + 1e-9)) + 1
    return [round(first + k * step, 6) for k in range(max(0, n))]


def _label(v: float) -> str:
    return f"{v:g}" if abs(v) < 10_000 else f"{v:.0f}"


@dataclass(frozen=True, slots=True)
class Frame:
    """Maps data (t, y) into the viewBox; everything drawn goes through :meth:`xy`."""

    t0: float
    t1: float
    y0: float
    y1: float

    def px(self, t: float) -> float:
        span = (self.t1 - self.t0) or 1.0
        share = min(1.0, max(0.0, (t - self.t0) / span))
        return PAD_L + share * (W - PAD_L - PAD_R)

    def py(self, y: float) -> float:
        span = (self.y1 - self.y0) or 1.0
        share = min(1.0, max(0.0, (y - self.y0) / span))
        return H - PAD_B - share * (H - PAD_T - PAD_B)

    def xy(self, t: float, y: float) -> str:
        return f"{self.px(t):.1f},{self.py(y):.1f}"


def _axes(f: Frame, y_unit: str, x_unit: str = "s") -> list[str]:
    """Grid, tick labels and units; the plot area is [PAD_L, W-PAD_R] × [PAD_T, H-PAD_B]."""
    out = [
        f'<rect x="{PAD_L}" y="{PAD_T}" width="{W - PAD_L - PAD_R}" '
        f'height="{H - PAD_T - PAD_B}" fill="#fff" stroke="{GRID}"/>'
    ]
    for y in _ticks(f.y0, f.y1, 5):
        py = f.py(y)
        out.append(
            f'<line x1="{PAD_L}" y1="{py:.1f}" x2="{W - PAD_R}" y2="{py:.1f}" stroke="{GRID}" '
            f'stroke-width="0.5"/><text x="{PAD_L - 4}" y="{py + 4:.1f}" text-anchor="end" '
            f'fill="{MUTED}">{_label(y)}</text>'
        )
    for t in _ticks(f.t0, f.t1, 6):
        px = f.px(t)
        out.append(
            f'<line x1="{px:.1f}" y1="{PAD_T}" x2="{px:.1f}" y2="{H - PAD_B}" stroke="{GRID}" '
            f'stroke-width="0.5"/><text x="{px:.1f}" y="{H - PAD_B + 14}" text-anchor="middle" '
            f'fill="{MUTED}">{_label(t)}</text>'
        )
    out.append(
        f'<text x="{W - PAD_R}" y="{H - 2}" text-anchor="end" fill="{MUTED}">'
        f"{html.escape(x_unit)}</text>"
        f'<text x="4" y="{PAD_T - 8}" fill="{MUTED}">{html.escape(y_unit)}</text>'
    )
    return out


def _legend(entries: Sequence[tuple[str, str]]) -> str:
    """Swatches right-aligned above the plot area, in the given order."""
    parts, x = [], W - PAD_R
    for name, colour in reversed(entries):
        x -= 7 * len(name) + 20
        parts.append(
            f'<rect x="{x}" y="{PAD_T - 15}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="{PAD_T - 6}" fill="{INK}">{html.escape(name)}</text>'
        )
    return "".join(parts)


def runs(points: Iterable[Sequence[float]]) -> list[list[Point]]:
    """Unbroken runs of a time series: split at non-finite samples and where samples are
    missing for longer than 1.5 times the series' usual (median) spacing."""
    pieces: list[list[Point]] = [[]]
    for p in points:
        if all(math.isfinite(v) for v in p):
            pieces[-1].append(tuple(float(v) for v in p))
        elif pieces[-1]:
            pieces.append([])
    steps = sorted(b[0] - a[0] for run in pieces for a, b in zip(run, run[1:], strict=False))
    steps = [d for d in steps if d > 0]
    max_gap = 1.5 * steps[len(steps) // 2] if steps else math.inf
    out: list[list[Point]] = []
    for piece in pieces:
        for k, p in enumerate(piece):
            if k == 0 or p[0] - piece[k - 1][0] > max_gap:
                out.append([])
            out[-1].append(p)
    return out


def _line(f: Frame, points: Iterable[Sequence[float]], colour: str, width: float = 1.5) -> str:
    """A polyline per unbroken run; a lone sample is drawn as a dot so it stays visible."""
    out = []
    for seg in runs(points):
        if len(seg) == 1:
            t, y = seg[0][0], seg[0][1]
            out.append(f'<circle cx="{f.px(t):.1f}" cy="{f.py(y):.1f}" r="2" fill="{colour}"/>')
        else:
            pts = " ".join(f.xy(p[0], p[1]) for p in seg)
            out.append(
                f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="{width}" '
                'stroke-linejoin="round"/>'
            )
    return "".join(out)


def _svg(kind: str, title: str, body: Sequence[str]) -> str:
    return (
        f'<svg class="plot {kind}" viewBox="0 0 {W} {H}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg" {FONT}><title>{html.escape(title)}</title>'
        + "".join(body)
        + "</svg>"
    )


def _empty(f: Frame, y_unit: str, why: str) -> list[str]:
    return [
        *_axes(f, y_unit),
        f'<text x="{(PAD_L + W - PAD_R) / 2}" y="{(PAD_T + H - PAD_B) / 2}" '
        f'text-anchor="middle" fill="{MUTED}">{html.escape(why)}</text>',
    ]


def loudness_plot(
    momentary: Iterable[Sequence[float]],
    *,
    duration_s: float,
    target_lufs: float | None = None,
    tolerance_lu: float | None = None,
) -> str:
    """Momentary loudness (EBU R128 'M', 400 ms window) over the clip, with the target band.

    The band is the gate's integrated-loudness rule (target ± tolerance): momentary values
    swing around it with speech; the integrated value is what the gate compares.
    """
    series = [tuple(p) for p in momentary]
    pts = finite(series)
    ys = [p[1] for p in pts]
    band = (
        (target_lufs, tolerance_lu)
        if target_lufs is not None and tolerance_lu is not None
        else None
    )
    anchors = [band[0] - band[1], band[0] + band[1]] if band else [-23.0]
    floor = min(anchors) - 30  # quieter than this (pauses, silence) sits on the bottom edge
    lo = max(floor, min(ys + anchors) - 2)
    hi = max(ys + anchors) + 2
    lo, hi = math.floor(lo / 5) * 5, math.ceil(hi / 5) * 5
    t1 = max([duration_s, *(p[0] for p in pts)]) or 1.0
    f = Frame(0.0, t1, lo, hi)
    title = "Momentary loudness (LUFS) over the clip"
    if not pts:
        return _svg("loudness", title, _empty(f, "LUFS", "no loudness measured"))
    body = _axes(f, "LUFS")
    legend = [("momentary", BLUE)]
    if band:
        target, tolerance = band
        y_hi, y_lo = f.py(target + tolerance), f.py(target - tolerance)
        body.append(
            f'<rect class="band" x="{PAD_L}" y="{y_hi:.1f}" width="{W - PAD_L - PAD_R}" '
            f'height="{max(1.0, y_lo - y_hi):.1f}" fill="{GREEN}" fill-opacity="0.18"/>'
            f'<line x1="{PAD_L}" y1="{f.py(target):.1f}" x2="{W - PAD_R}" '
            f'y2="{f.py(target):.1f}" stroke="{GREEN}" stroke-dasharray="4 3"/>'
        )
        legend.insert(0, (f"target {target:g} ± {tolerance:g}", GREEN))
    body.append(_line(f, series, BLUE))
    body.append(_legend(legend))
    return _svg("loudness", title, body)


SERIES_COLOURS = (BLUE, ORANGE, GREEN, MUTED, INK)


def line_chart(
    series: Mapping[str, Iterable[Sequence[float]]], *, title: str, x_unit: str, y_unit: str
) -> str:
    """Named (x, y) series on shared axes from 0, with a legend: e.g. a benchmark's ratios."""
    named = {name: finite(points) for name, points in series.items()}
    pts = [p for points in named.values() for p in points]
    x1 = max((p[0] for p in pts), default=1.0) or 1.0
    y1 = max((p[1] for p in pts), default=1.0) or 1.0
    f = Frame(0.0, x1 * 1.05, 0.0, y1 * 1.15)
    if not pts:
        return _svg("chart", title, _empty(f, y_unit, "nothing measured"))
    body = _axes(f, y_unit, x_unit)
    legend = []
    for (name, points), colour in zip(named.items(), SERIES_COLOURS, strict=False):
        line = " ".join(f.xy(p[0], p[1]) for p in sorted(points))
        body.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
        body.extend(
            f'<circle cx="{f.px(x):.1f}" cy="{f.py(y):.1f}" r="2.5" fill="{colour}"/>'
            for x, y, *_ in points
        )
        legend.append((name, colour))
    body.append(_legend(legend))
    return _svg("chart", title, body)


def _steps(keys: Sequence[Point], t_end: float, offset: float) -> list[Point]:
    """A piecewise-constant path (value held from each key's t) as polyline corners."""
    out: list[Point] = []
    for k, key in enumerate(keys):
        stop = keys[k + 1][0] if k + 1 < len(keys) else t_end
        v = key[1] + offset
        out += [(key[0], v), (max(key[0], stop), v)]
    return out


def crop_plot(
    face_track: Iterable[Sequence[float]],
    crop_keys: Iterable[Sequence[float]],
    *,
    duration_s: float,
    src_w: int,
    crop_w: int,
    centred_share: float = 0.1,
) -> str:
    """Where the face is and where the crop window sits, horizontally, in source pixels.

    The shaded bands are the crop window (x .. x + crop_w) and, darker, the zone within
    ``centred_share`` of the output width of its centre line: a face inside it counts as
    centred for the QA check. Keys are top-left x, held until the next key.
    """
    track = [(p[0], p[1]) for p in face_track]  # t, cx: NaN (face lost) breaks the line
    face = finite(track)
    keys = sorted((p[0], p[1]) for p in finite(crop_keys))
    t1 = max([duration_s, *(p[0] for p in face), *(k[0] for k in keys)]) or 1.0
    f = Frame(0.0, t1, 0.0, float(max(src_w, 1)))
    title = "Face centre and crop centre, x in source pixels"
    if not face and not keys:
        return _svg("crop", title, _empty(f, "x px", "no framing recorded"))
    body = _axes(f, "x px")
    if keys:
        left, right = _steps(keys, t1, 0.0), _steps(keys, t1, float(crop_w))
        tol = centred_share * crop_w
        zone_l = _steps(keys, t1, crop_w / 2 - tol)
        zone_r = _steps(keys, t1, crop_w / 2 + tol)
        for lo_edge, hi_edge, opacity, cls in (
            (left, right, 0.10, "window"),
            (zone_l, zone_r, 0.18, "centred-zone"),
        ):
            ring = " ".join(f.xy(t, y) for t, y in [*lo_edge, *reversed(hi_edge)])
            body.append(
                f'<polygon class="{cls}" points="{ring}" fill="{ORANGE}" '
                f'fill-opacity="{opacity}" stroke="none"/>'
            )
        centre = " ".join(f.xy(t, y) for t, y in _steps(keys, t1, crop_w / 2))
        body.append(
            f'<polyline class="crop-centre" points="{centre}" fill="none" stroke="{ORANGE}" '
            'stroke-width="1.5"/>'
        )
    body.append(_line(f, track, BLUE))
    body.append(_legend([("face centre", BLUE), ("crop centre", ORANGE)]))
    return _svg("crop", title, body)


def bar_list(values: Mapping[str, float], *, max_value: float = 1.0, width: int = 260) -> str:
    """Horizontal bars, one per named score (sub-scores are 0..1; longer = better)."""
    rows = [(k, float(v)) for k, v in values.items() if math.isfinite(float(v))]
    row_h, label_w, value_w = 16, 92, 40
    height = max(row_h, row_h * len(rows))
    scale = max([max_value, *(v for _, v in rows)]) or 1.0
    bar_w = width - label_w - value_w
    body = []
    for i, (name, v) in enumerate(rows):
        y = i * row_h
        length = bar_w * min(1.0, max(0.0, v / scale))
        body.append(
            f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end" fill="{MUTED}">'
            f"{html.escape(name.replace('_', ' '))}</text>"
            f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="10" fill="#eaeef2"/>'
            f'<rect x="{label_w}" y="{y + 3}" width="{length:.1f}" height="10" fill="{BLUE}"/>'
            f'<text x="{width - 2}" y="{y + 12}" text-anchor="end" fill="{INK}">{v:.2f}</text>'
        )
    if not rows:
        body.append(f'<text x="0" y="12" fill="{MUTED}">no sub-scores</text>')
    return (
        f'<svg class="bars" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" xmlns="http://www.w3.org/2000/svg" {FONT}><title>Score components</title>'
        + "".join(body)
        + "</svg>"
    )
