"""The job report: ``report.json`` (the contract in ARCHITECTURE.md) and a one-page HTML.

``build_report`` and ``to_html`` are pure (records in, dict out; dict in, text out).
``write_report`` is the one side effect: it reads the published clips once each (one ffmpeg
call per clip for a thumbnail strip) and writes both files atomically (temp file + rename), so
a reader never sees half a report; the caller writes the report after the clips it describes.
The page is self-contained (inline CSS and SVG, thumbnails as data: URIs, no script) except
for the clip videos, which it links by their relative paths.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from media import ffmpeg
from media.errors import MediaError
from qa import plots

REPORT_HZ = 2.0  # series in report.json: at most this many points per second
THUMB_FRAMES, THUMB_WIDTH = 6, 120  # thumbnail strip: frames across the clip, px per frame
THUMB_TIMEOUT_S = 60.0
# Per-clip checks shown next to the measurement they judge (names as qa.gate.rules gives them).
CLIP_METRICS = (
    ("integrated_lufs", "Loudness", "integrated_lufs", "{:.2f} LUFS"),
    ("true_peak", "True peak", "true_peak_dbtp", "{:.2f} dBTP"),
    ("face_centered", "Face centred", "face_centered_ratio", "{:.0%}"),
    ("decode_errors", "Decode errors", "decode_errors", "{}"),
    ("duration", "Duration", "duration_s", "{:.2f} s"),
)
_BAND = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*\+/-\s*(\d+(?:\.\d+)?)")


def write_atomic(path: Path, text: str) -> None:
    """Temp file + rename; world-readable like the clips (mkstemp would leave it 0600)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.fchmod(fd, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def _finite(value: Any) -> Any:
    """JSON has no infinities: a silent clip's −inf loudness is written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def to_json(report: dict[str, Any]) -> str:
    """Strict JSON (no NaN/Infinity tokens), so every JSON reader can load the report."""
    return json.dumps(_finite(report), indent=2, allow_nan=False, default=str) + "\n"


# --- thumbnails: one ffmpeg call per clip, at write time -----------------------------------


@dataclass(frozen=True, slots=True)
class Thumb:
    """A clip's thumbnail strip as a data: URI, or why there is none (shown on the page)."""

    uri: str | None
    note: str = ""


def thumbnail_argv(
    path: str, duration_s: float, frames: int = THUMB_FRAMES, width: int = THUMB_WIDTH
) -> list[str]:
    """ffmpeg argv: ``frames`` evenly spaced frames, scaled and tiled into one JPEG on stdout."""
    rate = frames / max(duration_s, 0.1)
    return (
        ffmpeg.ffmpeg_base()
        + ffmpeg.input_args(path)
        + [
            "-map", "0:v:0", "-an", "-sn", "-dn",
            "-vf", f"fps={rate:.6f},scale={width}:-2,tile={frames}x1",
            "-frames:v", "1", "-c:v", "mjpeg", "-q:v", "5", "-f", "image2pipe", "pipe:1",
        ]
    )  # fmt: skip


def thumbnail(path: Path, duration_s: float) -> Thumb:
    """The strip of one published clip; a missing or undecodable file gives a note instead."""
    if not path.is_file():
        return Thumb(None, f"no thumbnails: {path.name} is missing")
    try:
        jpeg = ffmpeg.run(thumbnail_argv(str(path), duration_s), timeout_s=THUMB_TIMEOUT_S).stdout
    except MediaError as exc:
        first = str(exc).splitlines()[-1] if str(exc) else type(exc).__name__
        return Thumb(None, f"no thumbnails: ffmpeg could not decode {path.name} ({first})")
    if not jpeg:
        return Thumb(None, f"no thumbnails: {path.name} has no video frame")
    return Thumb("data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii"))


def write_report(job_dir: Path, report: dict[str, Any]) -> None:
    """``report.json`` then ``report.html`` (with thumbnails of the clips in ``job_dir``)."""
    thumbs = {
        c["index"]: thumbnail(job_dir / c["path"], float(c.get("duration_s") or 0.0))
        for c in report.get("clips", [])
    }
    write_atomic(job_dir / "report.json", to_json(report))
    write_atomic(job_dir / "report.html", to_html(report, thumbs))


# --- the page -------------------------------------------------------------------------------

CSS = """
:root{--ok:#1a7f37;--bad:#cf222e;--ink:#1f2328;--muted:#59636e;--line:#d1d9e0;--soft:#f6f8fa}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:var(--soft);color:var(--ink)}
main{max-width:1140px;margin:0 auto;padding:24px}
h2{font-size:19px;margin:28px 0 10px}
.verdict{border-radius:12px;padding:20px 24px;color:#fff;background:var(--ok)}
.verdict.failed{background:var(--bad)}
.verdict .src{font-size:15px;opacity:.92;word-break:break-all}
.verdict h1{font-size:34px;line-height:1.15;margin:2px 0 4px}
.verdict .why{font-size:15px}
.stats{display:flex;flex-wrap:wrap;gap:10px 34px;margin-top:14px}
.stats div{font-size:13px;opacity:.92}.stats b{display:block;font-size:22px;opacity:1}
.meta{color:var(--muted);font-size:13px;margin:8px 2px 0}
.clip{background:#fff;border:1px solid var(--line);border-left:6px solid var(--ok);border-radius:10px;
padding:16px;margin:14px 0;display:grid;grid-template-columns:200px minmax(0,1fr);gap:6px 20px}
.clip.failed{border-left-color:var(--bad)}
.clip video{width:200px;height:auto;background:#000;border-radius:6px;display:block}
.clip h3{margin:0;font-size:18px}
.clip .sub{color:var(--muted);font-size:13px;margin:0 0 8px}
.badge{display:inline-block;color:#fff;background:var(--ok);border-radius:5px;padding:1px 7px;
font-size:12px;font-weight:600;vertical-align:2px;margin-left:6px}
.badge.fail{background:var(--bad)}
.failed-checks{color:var(--bad);font-weight:600;margin:0 0 8px}
.metrics{display:flex;flex-wrap:wrap;gap:6px;margin:0 0 10px;padding:0;list-style:none}
.metrics li{border:1px solid var(--line);border-radius:6px;padding:2px 8px;font-size:13px}
.metrics li span{color:var(--muted)}
.metrics li.bad{border-color:var(--bad);background:#ffebe9}
.thumbs{display:block;width:auto;height:auto;max-width:100%;max-height:150px;border-radius:4px;margin:0 0 10px}
.note{color:var(--muted);font-style:italic;font-size:13px}
.plots{display:grid;grid-template-columns:1fr 1fr;gap:12px;grid-column:1/3;margin-top:8px}
.plots figure{margin:0}.plots figcaption{font-size:13px;color:var(--muted)}
svg.plot{width:100%;height:auto;display:block}
.words{display:grid;grid-template-columns:270px minmax(0,1fr);gap:20px}
blockquote{margin:0;padding:2px 0 2px 12px;border-left:3px solid var(--line);color:#393f46}
table{border-collapse:collapse;background:#fff;width:100%;font-size:14px}
td,th{border-bottom:1px solid var(--line);padding:5px 9px;text-align:left;vertical-align:top}
th{background:var(--soft);font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.fail td{background:#ffebe9}
tfoot td{font-weight:700;border-top:2px solid var(--ink)}
.bar{background:#0969da;height:10px;border-radius:2px;min-width:1px}
.cols{display:grid;grid-template-columns:3fr 2fr;gap:20px}
@media (max-width:760px){.clip,.plots,.words,.cols{grid-template-columns:1fr}.plots{grid-column:1}}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: Any) -> str:
    """A readable table cell; escaped."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            return _e(value)
        return f"{value:.3f}" if abs(value) < 1000 else f"{value:.1f}"
    return _e(value)


def _num(value: Any, spec: str) -> str:
    return spec.format(value) if isinstance(value, int | float) else _fmt(value)


def _badge(passed: bool) -> str:
    return '<span class="badge">PASS</span>' if passed else '<span class="badge fail">FAIL</span>'


def source_name(uri: str) -> str:
    """The file name of a local path or an object URI (``s3://bucket/a/b.mp4`` -> ``b.mp4``)."""
    return uri.rstrip("/").rsplit("/", 1)[-1] or uri


def loudness_band(checks: Sequence[Mapping[str, Any]]) -> tuple[float | None, float | None]:
    """Target and tolerance (LUFS, LU) from the ``integrated_lufs`` check's threshold text
    (``"-14 +/- 0.5 LUFS"``, as qa.gate writes it); (None, None) when absent."""
    for c in checks:
        if c.get("name") == "integrated_lufs" and (m := _BAND.match(str(c.get("threshold")))):
            return float(m.group(1)), float(m.group(2))
    return None, None


def _header(report: Mapping[str, Any]) -> str:
    qa, src, cost = report.get("qa", {}), report.get("source", {}), report.get("cost", {})
    timings = report.get("timings", {})
    checks = qa.get("checks", [])
    failed = [c["name"] for c in checks if not c.get("passed")]
    spread_rule = next((c["threshold"] for c in checks if c.get("name") == "lu_spread"), "")
    why = f'<div class="why">Failed: {_e(", ".join(failed))}</div>' if failed else ""
    stats = [
        ("clips", str(len(report.get("clips", [])))),
        ("LU spread", f"{_num(qa.get('lu_spread'), '{:.2f}')} LU"),
        ("cost", f"${_num(cost.get('total_usd'), '{:.4f}')}"),
        ("wall time", f"{_num(timings.get('wall_s'), '{:.1f}')} s"),
    ]
    return f"""<header class="verdict{"" if qa.get("passed") else " failed"}">
<div class="src">{_e(source_name(str(src.get("uri", ""))))}</div>
<h1>{"QA passed" if qa.get("passed") else "QA failed"}</h1>{why}
<div class="stats">{"".join(f"<div>{k}<b>{v}</b></div>" for k, v in stats)}</div>
</header>
<p class="meta">Job {_e(report.get("job_id", ""))} · {_e(src.get("uri", ""))} ·
{_num(src.get("duration_s"), "{:.1f}")} s of {_e(src.get("width"))}×{_e(src.get("height"))}
at {_num(src.get("fps"), "{:g}")} fps · sha256 {_e(str(src.get("sha256", ""))[:12])}
{f"· LU spread rule {_e(spread_rule)}" if spread_rule else ""}
{_selection_line(report.get("selection") or {})}</p>"""


def _selection_line(selection: dict[str, Any]) -> str:
    """How the clips were chosen, and why an LLM's choice was not used, if it was not."""
    method = {
        "llm": "an LLM, among the offline shortlist",
        "plan": "a plan file",
    }.get(str(selection.get("method")), "the offline scorer")
    reason = f" ({_e(selection['reason'])})" if selection.get("reason") else ""
    return f"<br>Clips chosen by {method}{reason}."


def _speakers(clip: Mapping[str, Any]) -> str:
    names = [n for n in clip.get("speakers") or [clip.get("speaker")] if n]
    if not names:
        return "speaker —"
    return f"speaker{'s' if len(names) > 1 else ''} {_e(', '.join(names))}"


def _caption_links(clip: Mapping[str, Any]) -> str:
    captions = clip.get("captions") or {}
    links = " · ".join(
        f'<a href="{_e(path)}">{_e(kind.upper())}</a>' for kind, path in captions.items()
    )
    return f'<p class="sub">Captions: {links}</p>' if links else ""


def _clip(clip: Mapping[str, Any], report: Mapping[str, Any], thumb: Thumb | None) -> str:
    q, fr = clip.get("qa", {}), clip.get("framing", {})
    codec = q.get("codec", {})
    failed = list(q.get("failed_checks", []))
    passed = bool(q.get("passed", not failed))
    metrics = "".join(
        f'<li class="{"bad" if check in failed else ""}"><span>{label}</span> '
        f"{_num(q.get(key), spec)}</li>"
        for check, label, key, spec in CLIP_METRICS
    )
    codec_line = (
        f"{_fmt(codec.get('codec'))} {_fmt(codec.get('profile'))} "
        f"{_fmt(codec.get('width'))}×{_fmt(codec.get('height'))} @ {_num(codec.get('fps'), '{:g}')} fps"
    )
    if thumb is not None and thumb.uri:
        strip = f'<img class="thumbs" alt="frames of clip {_e(clip["index"])}" src="{thumb.uri}">'
    else:
        strip = f'<p class="note">{_e(thumb.note if thumb else "no thumbnails")}</p>'
    duration = float(clip.get("duration_s") or 0.0)
    target, tol = loudness_band(report.get("qa", {}).get("checks", []))
    loud = plots.loudness_plot(
        q.get("momentary_lufs", []), duration_s=duration, target_lufs=target, tolerance_lu=tol
    )
    crop = plots.crop_plot(
        fr.get("face_track", []),
        fr.get("crop_keys", []),
        duration_s=duration,
        src_w=int(report.get("source", {}).get("width") or fr.get("crop_w") or 1),
        crop_w=int(fr.get("crop_w") or 0),
    )
    subs = {
        k: v
        for k, v in (clip.get("sub_scores") or {}).items()
        if k != "total" and isinstance(v, int | float)
    }
    aspect = ""
    if codec.get("width") and codec.get("height"):
        aspect = f' style="aspect-ratio:{int(codec["width"])}/{int(codec["height"])}"'
    verdict = (
        ""
        if passed
        else f'<p class="failed-checks">Failed: {_e(", ".join(failed) or "see QA table")}</p>'
    )
    return f"""<section class="clip{"" if passed else " failed"}" id="clip-{_e(clip["index"])}">
<video controls preload="metadata" src="{_e(clip["path"])}"{aspect}></video>
<div>
<h3>Clip {_e(clip["index"])}: {_e(clip.get("title") or "untitled")} {_badge(passed)}</h3>
<p class="sub">{_num(clip.get("start_s"), "{:.2f}")}–{_num(clip.get("end_s"), "{:.2f}")} s of the
source · {_num(clip.get("duration_s"), "{:.1f}")} s · {_speakers(clip)}
· {_e(fr.get("layout", "—"))} layout · {codec_line} · {_e(clip.get("encoder", ""))}</p>
{verdict}<ul class="metrics">{metrics}</ul>
{strip}
<div class="words">
<div><b>Score {_num(clip.get("score"), "{:.3f}")}</b>{plots.bar_list(subs)}</div>
<blockquote class="transcript">{_e(clip.get("text", ""))}</blockquote>
{_caption_links(clip)}
</div>
</div>
<div class="plots">
<figure>{loud}<figcaption>Momentary loudness; green band: the integrated target.</figcaption></figure>
<figure>{crop}<figcaption>Face and crop centre (x, source px); shaded: crop window and
the centred zone.</figcaption></figure>
</div>
</section>"""


def _tables(report: Mapping[str, Any]) -> str:
    checks = "".join(
        f'<tr class="{"" if c.get("passed") else "fail"}"><td>{_e(c["name"])}</td>'
        f"<td>{_badge(bool(c.get('passed')))}</td><td class='num'>{_fmt(c.get('value'))}</td>"
        f"<td>{_e(c.get('threshold', ''))}</td></tr>"
        for c in report.get("qa", {}).get("checks", [])
    )
    cost = report.get("cost", {})
    costs = "".join(
        f"<tr><td>{_e(i['stage'])}</td><td>{_e(i['resource'])}</td>"
        f"<td class='num'>{_fmt(i['quantity'])} {_e(i['unit'])}</td>"
        f"<td class='num'>${_num(i['usd'], '{:.5f}')}</td></tr>"
        for i in cost.get("items", [])
    )
    timings = report.get("timings", {})
    stages = timings.get("stages", {})
    longest = max([1e-9, *(v for v in stages.values() if isinstance(v, int | float))])
    stage_rows = "".join(
        f"<tr><td>{_e(k)}</td><td class='num'>{_num(v, '{:.2f}')} s</td><td style='width:50%'>"
        f"<div class='bar' style='width:{100 * max(0.0, float(v)) / longest:.1f}%'></div></td></tr>"
        for k, v in stages.items()
        if isinstance(v, int | float)
    )
    return f"""<h2>QA checks</h2>
<table class="checks"><thead><tr><th>check</th><th>result</th><th>value</th><th>threshold</th></tr></thead>
<tbody>{checks}</tbody></table>
<div class="cols"><div><h2>Cost</h2>
<table class="cost"><thead><tr><th>stage</th><th>resource</th><th>quantity</th><th>USD</th></tr></thead>
<tbody>{costs}</tbody><tfoot><tr><td colspan="3">total</td>
<td class="num">${_num(cost.get("total_usd"), "{:.4f}")}</td></tr></tfoot></table></div>
<div><h2>Stage timings</h2>
<table class="timings"><tbody>{stage_rows}</tbody><tfoot><tr><td>wall</td>
<td class="num">{_num(timings.get("wall_s"), "{:.2f}")} s</td><td></td></tr></tfoot></table></div></div>"""


def to_html(report: Mapping[str, Any], thumbs: Mapping[int, Thumb] | None = None) -> str:
    """A page a producer can forward: verdict, clips with frames and plots, checks, cost."""
    thumbs = thumbs or {}
    clips = "".join(_clip(c, report, thumbs.get(c["index"])) for c in report.get("clips", []))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{_e(source_name(str(report.get("source", {}).get("uri", ""))))}: clipflow report</title>
<style>{CSS}</style></head><body><main>
{_header(report)}
<h2>Clips</h2>{clips or '<p class="note">No clips.</p>'}
{_tables(report)}
</main></body></html>
"""


# --- report.json ------------------------------------------------------------------------------


def _series(points: Sequence[Sequence[float]], digits: int = 2) -> list[list[float]]:
    """``[[t, v, …], …]`` at most :data:`REPORT_HZ` per second, non-finite samples skipped."""
    return [
        [round(t, 3), *(round(v, digits) for v in vs)] for t, *vs in plots.thin(points, REPORT_HZ)
    ]


def _stage_totals(costs: list[Any]) -> dict[str, float]:
    """USD per stage, in the order stages first appear in the ledger."""
    totals: dict[str, float] = {}
    for item in costs:
        totals[item.stage] = round(totals.get(item.stage, 0.0) + item.usd, 8)
    return totals


def build_report(
    *,
    job_id: str,
    source: Any,
    plans: list[Any],
    rendered: list[Any],
    measured: list[Any],
    framed: list[Any],
    verdict: Any,
    costs: list[Any],
    timings: dict[str, float],
    wall_s: float,
    selection: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The ``report.json`` contract (ARCHITECTURE.md), extended with titles, sub-scores,
    framing (crop keys, the followed face at ≤ 2 Hz), the momentary loudness at ≤ 2 Hz and
    the encoder. Inputs are the stages' records, one per clip in plan order."""
    clips = []
    for i, (plan, clip, m, fr) in enumerate(zip(plans, rendered, measured, framed, strict=True)):
        failed = list(verdict.clip_failures[i]) if i < len(verdict.clip_failures) else []
        clips.append(
            {
                "index": plan.index,
                "path": f"clips/clip-{plan.index:02d}.mp4",
                "start_s": plan.start_s,
                "end_s": plan.end_s,
                "duration_s": round(plan.duration_s, 3),
                "text": plan.text,
                "score": plan.score,
                "speaker": plan.speaker,
                "speakers": list(plan.speakers or [plan.speaker]),
                "topic": plan.topic,
                "title": plan.title,
                "sub_scores": plan.sub_scores,
                "captions": {
                    "srt": f"clips/clip-{plan.index:02d}.srt",
                    "vtt": f"clips/clip-{plan.index:02d}.vtt",
                },
                "framing": {
                    "layout": fr.layout,
                    "crop_w": fr.crop_w,
                    "crop_h": fr.crop_h,
                    "keys": len(fr.keys),
                    "crop_keys": [[round(k.t, 3), k.x] for k in fr.keys],
                    "face_track": _series(fr.face_track, 1),
                },
                "encoder": clip.encoder,
                "qa": {
                    "integrated_lufs": m.integrated_lufs,
                    "true_peak_dbtp": m.true_peak_dbtp,
                    "face_centered_ratio": m.face_centered_ratio,
                    "decode_errors": m.decode_errors,
                    "duration_s": m.duration_s,
                    "codec": asdict(m.codec),
                    "passed": not failed,
                    "failed_checks": failed,
                    "momentary_lufs": _series(m.momentary),
                },
            }
        )
    video = source.info.video[0]
    return {
        "job_id": job_id,
        "source": {
            "uri": source.uri,
            "sha256": source.sha256,
            "duration_s": source.info.duration_s,
            "width": video.width,
            "height": video.height,
            "fps": video.fps,
        },
        "clips": clips,
        "qa": {
            "lu_spread": verdict.lu_spread,
            "passed": verdict.passed,
            "checks": [asdict(c) for c in verdict.checks],
        },
        "cost": {
            "stages": _stage_totals(costs),
            "total_usd": round(sum(c.usd for c in costs), 6),
            "items": [asdict(c) for c in costs],
        },
        "timings": {"wall_s": round(wall_s, 3), "stages": dict(timings)},
        # How the clips were chosen: "offline" (the scorer) or "llm", and why it fell back.
        "selection": selection or {"method": "offline", "reason": ""},
    }
