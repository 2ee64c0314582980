"""The job report: ``report.json`` (the contract in ARCHITECTURE.md) and a one-page HTML.

Pure: a dict in, text out; writing is atomic (temp file + rename) so a reader never sees half a
report, and the caller writes the report after the clips it describes.
"""

from __future__ import annotations

import html
import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any


def write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=False, default=str) + "\n"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 1000 else f"{value:.1f}"
    return html.escape(str(value))


def _badge(passed: bool) -> str:
    return '<span class="ok">PASS</span>' if passed else '<span class="bad">FAIL</span>'


def to_html(report: dict[str, Any]) -> str:
    """A page a producer can read at a glance: verdict, clips, checks, cost."""
    qa = report.get("qa", {})
    src = report.get("source", {})
    rows = []
    for clip in report.get("clips", []):
        q = clip.get("qa", {})
        codec = q.get("codec", {})
        subs = ", ".join(
            f"{k} {v:.2f}"
            for k, v in (clip.get("sub_scores") or {}).items()
            if isinstance(v, int | float)
        )
        rows.append(f"""
<section class="clip">
  <h3>Clip {clip["index"]}: {html.escape(clip.get("title") or "")} {_badge(q.get("passed", False))}</h3>
  <video controls preload="metadata" src="{html.escape(clip["path"])}"></video>
  <dl>
    <dt>Source time</dt><dd>{clip["start_s"]:.2f} – {clip["end_s"]:.2f} s ({clip["duration_s"]:.1f} s)</dd>
    <dt>Speaker</dt><dd>{html.escape(clip.get("speaker") or "—")}</dd>
    <dt>Score</dt><dd>{clip.get("score", 0):.3f} <small>{html.escape(subs)}</small></dd>
    <dt>Loudness</dt><dd>{_fmt(q.get("integrated_lufs"))} LUFS, true peak {_fmt(q.get("true_peak_dbtp"))} dBTP</dd>
    <dt>Face centred</dt><dd>{_fmt(100 * (q.get("face_centered_ratio") or 0))} % of sampled frames</dd>
    <dt>Codec</dt><dd>{_fmt(codec.get("codec"))} {_fmt(codec.get("profile"))} L{_fmt(codec.get("level"))}, {codec.get("width")}×{codec.get("height")} @ {_fmt(codec.get("fps"))} fps, {_fmt(codec.get("pix_fmt"))}, {_fmt(codec.get("color_primaries"))}</dd>
    <dt>Failed checks</dt><dd>{html.escape(", ".join(q.get("failed_checks", [])) or "none")}</dd>
  </dl>
  <blockquote>{html.escape(clip.get("text", ""))}</blockquote>
</section>""")
    checks = "".join(
        f"<tr><td>{html.escape(c['name'])}</td><td>{_badge(c['passed'])}</td>"
        f"<td>{_fmt(c.get('value'))}</td><td>{_fmt(c.get('threshold'))}</td></tr>"
        for c in qa.get("checks", [])
    )
    cost = report.get("cost", {})
    costs = "".join(
        f"<tr><td>{html.escape(i['stage'])}</td><td>{html.escape(i['resource'])}</td>"
        f"<td>{_fmt(i['quantity'])} {html.escape(i['unit'])}</td><td>${i['usd']:.5f}</td></tr>"
        for i in cost.get("items", [])
    )
    stages = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{v:.2f} s</td></tr>"
        for k, v in report.get("timings", {}).get("stages", {}).items()
    )
    verdict = "QA passed" if qa.get("passed") else "QA failed"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>clipflow job {html.escape(report.get("job_id", ""))}</title>
<style>
body{{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222}}
h1{{font-size:1.5rem}} .ok{{color:#fff;background:#1a7f37;padding:1px 6px;border-radius:4px}}
.bad{{color:#fff;background:#cf222e;padding:1px 6px;border-radius:4px}}
table{{border-collapse:collapse;margin:1rem 0}} td,th{{border:1px solid #ddd;padding:4px 8px;text-align:left}}
.clip{{border:1px solid #ddd;border-radius:8px;padding:1rem;margin:1rem 0;display:grid;
grid-template-columns:220px 1fr;gap:1rem}} .clip h3{{grid-column:1/3;margin:0}}
video{{width:220px;background:#000}} dl{{display:grid;grid-template-columns:9rem 1fr;margin:0}}
dt{{color:#666}} blockquote{{grid-column:1/3;margin:0;color:#444;font-style:italic}}
</style></head><body>
<h1>{html.escape(src.get("uri", ""))} — {verdict}</h1>
<p>{len(report.get("clips", []))} clip(s) from {_fmt(src.get("duration_s", 0))} s of
{src.get("width")}×{src.get("height")} video. LU spread {_fmt(qa.get("lu_spread"))} LU.
Cost ${cost.get("total_usd", 0):.4f}. Wall time {_fmt(report.get("timings", {}).get("wall_s", 0))} s.</p>
<h2>Checks</h2>
<table><tr><th>check</th><th>result</th><th>value</th><th>threshold</th></tr>{checks}</table>
<h2>Clips</h2>{"".join(rows)}
<h2>Cost</h2>
<table><tr><th>stage</th><th>resource</th><th>quantity</th><th>USD</th></tr>{costs}</table>
<h2>Stage timings</h2><table>{stages}</table>
</body></html>
"""


def write_report(job_dir: Path, report: dict[str, Any]) -> None:
    """``report.json`` then ``report.html``, each atomically."""
    write_atomic(job_dir / "report.json", to_json(report))
    write_atomic(job_dir / "report.html", to_html(report))


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
) -> dict[str, Any]:
    """The ``report.json`` contract (ARCHITECTURE.md), extended with titles, sub-scores,
    framing and encoder. Inputs are the stages' records, one per clip in plan order."""
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
                "title": plan.title,
                "sub_scores": plan.sub_scores,
                "framing": {
                    "layout": fr.layout,
                    "crop_w": fr.crop_w,
                    "crop_h": fr.crop_h,
                    "keys": len(fr.keys),
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
            "total_usd": round(sum(c.usd for c in costs), 6),
            "items": [asdict(c) for c in costs],
        },
        "timings": {"wall_s": round(wall_s, 3), "stages": dict(timings)},
    }
