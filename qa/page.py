"""report.html: a one-page view of a ``report.json`` dict (pure: dict in, text out).

The page is self-contained (inline CSS and SVG, thumbnails as data: URIs, no script) except for
the clip videos, which it links by their relative paths. Everything from the report is escaped.
The check table and each clip's headline measurements are laid out from the declarations in
:mod:`qa.checks` (label, value format); :mod:`qa.report` assembles the dict and writes the files.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qa import checks as declared
from qa import plots

CSS = """
:root{--ok:#1a7f37;--bad:#cf222e;--ink:#1f2328;--muted:#59636e;--line:#d1d9e0;--soft:#f6f8fa}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;
background:var(--soft);color:var(--ink)}
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
.clip{background:#fff;border:1px solid var(--line);border-left:6px solid var(--ok);
border-radius:10px;padding:16px;margin:14px 0;display:grid;
grid-template-columns:200px minmax(0,1fr);gap:6px 20px}
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
.thumbs{display:block;width:auto;height:auto;max-width:100%;max-height:150px;
border-radius:4px;margin:0 0 10px}
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


@dataclass(frozen=True, slots=True)
class Thumb:
    """A clip's thumbnail strip as a data: URI, or why there is none (shown on the page)."""

    uri: str | None
    note: str = ""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: object) -> str:
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


def _num(value: object, spec: str) -> str:
    return spec.format(value) if isinstance(value, int | float) else _fmt(value)


def _badge(passed: bool) -> str:
    return '<span class="badge">PASS</span>' if passed else '<span class="badge fail">FAIL</span>'


def source_name(uri: str) -> str:
    """The file name of a local path or an object URI (``s3://bucket/a/b.mp4`` -> ``b.mp4``)."""
    return uri.rstrip("/").rsplit("/", 1)[-1] or uri


def loudness_band(checks: Sequence[Mapping[str, Any]]) -> tuple[float | None, float | None]:
    """Target and tolerance (LUFS, LU): the middle and half-width of the integrated-loudness
    check's bounds (``lo``/``hi``); (None, None) when the check or a bound is absent."""
    for c in checks:
        lo, hi = c.get("lo"), c.get("hi")
        if c.get("name") == declared.LOUDNESS.name and isinstance(lo, int | float):
            if isinstance(hi, int | float):
                return (lo + hi) / 2, (hi - lo) / 2
    return None, None


def _header(report: Mapping[str, Any]) -> str:
    qa, src, cost = report.get("qa", {}), report.get("source", {}), report.get("cost", {})
    timings = report.get("timings", {})
    checks = qa.get("checks", [])
    failed = [c["name"] for c in checks if not c.get("passed")]
    spread = declared.LU_SPREAD
    spread_rule = next((c["threshold"] for c in checks if c.get("name") == spread.name), "")
    why = f'<div class="why">Failed: {_e(", ".join(failed))}</div>' if failed else ""
    stats = [
        ("clips", str(len(report.get("clips", [])))),
        (spread.label, _e(spread.display(qa.get("lu_spread")))),
        ("cost", f"${_num(cost.get('total_usd'), '{:.4f}')}"),
        ("wall time", f"{_num(timings.get('wall_s'), '{:.1f}')} s"),
    ]
    verdict = "QA passed" if qa.get("passed") else "QA failed"
    return f"""<header class="verdict{"" if qa.get("passed") else " failed"}">
<div class="src">{_e(source_name(str(src.get("uri", ""))))}</div>
<h1>{verdict}</h1>{why}
<div class="stats">{"".join(f"<div>{k}<b>{v}</b></div>" for k, v in stats)}</div>
</header>
<p class="meta">Job {_e(report.get("job_id", ""))} · {_e(src.get("uri", ""))} ·
{_num(src.get("duration_s"), "{:.1f}")} s of {_e(src.get("width"))}×{_e(src.get("height"))}
at {_num(src.get("fps"), "{:g}")} fps · sha256 {_e(str(src.get("sha256", ""))[:12])}
{f"· LU spread rule {_e(spread_rule)}" if spread_rule else ""}
{_selection_line(report.get("selection") or {})}
{_transcript_line(report.get("transcript") or {})}</p>"""


def _selection_line(selection: Mapping[str, Any]) -> str:
    """How the clips were chosen, and why an LLM's choice was not used, if it was not."""
    method = {
        "llm": "an LLM, among the offline shortlist",
        "plan": "a plan file",
    }.get(str(selection.get("method")), "the offline scorer")
    reason = f" ({_e(selection['reason'])})" if selection.get("reason") else ""
    return f"<br>Clips chosen by {method}{reason}."


def _transcript_line(facts: Mapping[str, Any]) -> str:
    """Where the words came from: the sidecar, or which recogniser and model heard them."""
    source = str(facts.get("source") or "")
    if not source:
        return ""
    if source.startswith("asr:"):
        how = f"recognised by {_e(source[4:])}"
        if facts.get("model"):
            how += f" ({_e(facts['model'])}"
            how += f", language {_e(facts['language'])})" if facts.get("language") else ")"
    else:
        how = f"from the {_e(source)} transcript"
    speakers = facts.get("speakers") or []
    who = f", {len(speakers)} speaker{'s' if len(speakers) != 1 else ''}" if speakers else ""
    return f"<br>Words {how}: {_e(facts.get('words', 0))} words{who}."


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


def _metrics(q: Mapping[str, Any]) -> str:
    """The clip's headline checks (:attr:`CheckSpec.headline`): label and the clip's value,
    marked when the clip failed the check."""
    failed = set(q.get("failed_checks", []))
    own = {c.get("name"): c for c in q.get("checks", [])}
    items = []
    for spec in declared.CHECKS:
        if spec.headline:
            value = own[spec.name].get("value") if spec.name in own else q.get(spec.column)
            items.append(
                f'<li class="{"bad" if spec.name in failed else ""}"><span>{_e(spec.label)}'
                f"</span> {_e(spec.display(value))}</li>"
            )
    return "".join(items)


def _camera_line(fr: Mapping[str, Any]) -> str:
    """The shots and the camera figures of a clip (media.framing.summary), in one line."""
    cam = fr.get("camera")
    if not cam:
        return ""
    shots = " → ".join(
        _e(s["layout"]) + (f" ({_e(s['note'])})" if s.get("note") else "")
        for s in fr.get("segments", [])
    )
    share = cam.get("speaker_share")
    on_speaker = "—" if share is None else f"{100 * share:.0f} %"
    return (
        f'<p class="sub">Shots: {shots or "—"} · {_e(cam.get("source_cuts", 0))} source cuts · '
        f"on the speaker {on_speaker} · empty {100 * float(cam.get('empty_share', 0)):.0f} % · "
        f"{_num(cam.get('reversals_per_s'), '{:.2f}')} reversals/s · "
        f"p99 pan {_num(cam.get('p99_pan_px'), '{:.1f}')} px/frame</p>"
    )


def _clip(clip: Mapping[str, Any], report: Mapping[str, Any], thumb: Thumb | None) -> str:
    q, fr = clip.get("qa", {}), clip.get("framing", {})
    codec = q.get("codec", {})
    failed = list(q.get("failed_checks", []))
    passed = bool(q.get("passed", not failed))
    codec_line = (
        f"{_fmt(codec.get('codec'))} {_fmt(codec.get('profile'))} "
        f"{_fmt(codec.get('width'))}×{_fmt(codec.get('height'))} @ "
        f"{_num(codec.get('fps'), '{:g}')} fps"
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
    index = _e(clip["index"])
    return f"""<section class="clip{"" if passed else " failed"}" id="clip-{index}">
<video controls preload="metadata" src="{_e(clip["path"])}"{aspect}></video>
<div>
<h3>Clip {index}: {_e(clip.get("title") or "untitled")} {_badge(passed)}</h3>
<p class="sub">{_num(clip.get("start_s"), "{:.2f}")}–{_num(clip.get("end_s"), "{:.2f}")} s of the
source · {_num(clip.get("duration_s"), "{:.1f}")} s · {_speakers(clip)}
· {_e(fr.get("layout", "—"))} layout · {codec_line} · {_e(clip.get("encoder", ""))}</p>
{verdict}<ul class="metrics">{_metrics(q)}</ul>
{_camera_line(fr)}
{strip}
<div class="words">
<div><b>Score {_num(clip.get("score"), "{:.3f}")}</b>{plots.bar_list(subs)}</div>
<blockquote class="transcript">{_e(clip.get("text", ""))}</blockquote>
{_caption_links(clip)}
</div>
</div>
<div class="plots">
<figure>{loud}<figcaption>Momentary loudness; green band: the integrated target.</figcaption>
</figure>
<figure>{crop}<figcaption>Face and crop centre (x, source px); shaded: crop window and
the centred zone.</figcaption></figure>
</div>
</section>"""


def _check_rows(checks: Sequence[Mapping[str, Any]]) -> str:
    """One row per check: name, label, verdict, value (declared format), threshold."""
    rows = []
    for c in checks:
        spec = declared.find(c.get("name"))
        value = c.get("value")
        rows.append(
            f'<tr class="{"" if c.get("passed") else "fail"}"><td>{_e(c["name"])}</td>'
            f"<td>{_e(spec.label if spec else '')}</td><td>{_badge(bool(c.get('passed')))}</td>"
            f"<td class='num'>{_e(spec.display(value)) if spec else _fmt(value)}</td>"
            f"<td>{_e(c.get('threshold', ''))}</td></tr>"
        )
    return "".join(rows)


def _tables(report: Mapping[str, Any]) -> str:
    checks = _check_rows(report.get("qa", {}).get("checks", []))
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
        f"<div class='bar' style='width:{100 * max(0.0, float(v)) / longest:.1f}%'></div>"
        "</td></tr>"
        for k, v in stages.items()
        if isinstance(v, int | float)
    )
    return f"""<h2>QA checks</h2>
<table class="checks"><thead><tr><th>check</th><th>what</th><th>result</th><th>value</th>
<th>threshold</th></tr></thead>
<tbody>{checks}</tbody></table>
<div class="cols"><div><h2>Cost</h2>
<table class="cost"><thead><tr><th>stage</th><th>resource</th><th>quantity</th><th>USD</th></tr>
</thead><tbody>{costs}</tbody><tfoot><tr><td colspan="3">total</td>
<td class="num">${_num(cost.get("total_usd"), "{:.4f}")}</td></tr></tfoot></table></div>
<div><h2>Stage timings</h2>
<table class="timings"><tbody>{stage_rows}</tbody><tfoot><tr><td>wall</td>
<td class="num">{_num(timings.get("wall_s"), "{:.2f}")} s</td><td></td></tr></tfoot></table>
</div></div>"""


def to_html(report: Mapping[str, Any], thumbs: Mapping[int, Thumb] | None = None) -> str:
    """A page a producer can forward: verdict, clips with frames and plots, checks, cost."""
    thumbs = thumbs or {}
    clips = "".join(_clip(c, report, thumbs.get(c["index"])) for c in report.get("clips", []))
    title = _e(source_name(str(report.get("source", {}).get("uri", ""))))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{title}: clipflow report</title>
<style>{CSS}</style></head><body><main>
{_header(report)}
<h2>Clips</h2>{clips or '<p class="note">No clips.</p>'}
{_tables(report)}
</main></body></html>
"""
