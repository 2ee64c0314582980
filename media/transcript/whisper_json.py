"""Word-level JSON transcripts: Whisper, faster-whisper, WhisperX, and clipflow's own format.

All Whisper-family outputs are a list of segments (``start``, ``end``, ``text``, optional
``speaker``), each with an optional list of words (``word``, ``start``, ``end``, and
``probability`` or WhisperX's ``score``). :func:`from_segments` reads them from parsed JSON or
from faster-whisper's own ``Segment``/``Word`` objects, so files and the live recogniser share
one conversion. WhisperX leaves words it cannot align (often numbers) without times; those are
placed between their timed neighbours. A segment without words gets word times estimated like
a cue, and the transcript says so (``timing == "cue"``).

clipflow's own format (:func:`to_json`) stores a :class:`Transcript` losslessly.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from media.errors import InputError
from media.transcript.cues import Cue, estimate_words
from media.transcript.records import (
    Timing,
    Transcript,
    Word,
    ordered_words,
    sentences_from_words,
)

FORMAT = "clipflow-transcript"
VERSION = 1
# faster-whisper < 1.1 made Word a NamedTuple: Segment._asdict() leaves words as tuples, which
# json writes as arrays in this field order.
_WORD_FIELDS = ("start", "end", "word", "probability")
_EXPECTED = (
    f"expected Whisper/faster-whisper/WhisperX segments with start/end times, or {FORMAT!r} JSON"
)


def _field(item: object, key: str) -> Any:
    """``item[key]`` for parsed JSON, ``item.key`` for faster-whisper's objects; else None."""
    if isinstance(item, Mapping):
        return item.get(key)
    return getattr(item, key, None)


def _time(item: object, key: str, where: str) -> float | None:
    value = _field(item, key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(f"{where}: {key} is {value!r}, expected a time in seconds")
    if value < 0:
        raise InputError(f"{where}: {key} is {value!r}, a negative time")
    return float(value)


def _confidence(item: object) -> float:
    for key in ("probability", "score", "confidence"):
        value = _field(item, key)
        if isinstance(value, int | float) and math.isfinite(value):
            return min(1.0, max(0.0, float(value)))
    return 1.0


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _segment_words(
    items: Iterable[object], seg: tuple[float | None, float | None], speaker: str, where: str
) -> list[Word]:
    """A segment's words; runs of words without times are spread between their neighbours."""
    raw = []
    for n, item in enumerate(items, 1):
        if isinstance(item, list) and len(item) == len(_WORD_FIELDS):
            item = dict(zip(_WORD_FIELDS, item, strict=True))
        text = _text(_field(item, "word")) or _text(_field(item, "text"))
        if text:
            at = f"{where} word {n}"
            start, end = _time(item, "start", at), _time(item, "end", at)
            timed = (start, end) if start is not None and end is not None else None
            who = _text(_field(item, "speaker")) or speaker
            raw.append((text, timed, who, _confidence(item)))
    words: list[Word] = []
    i = 0
    while i < len(raw):
        text, timed, who, confidence = raw[i]
        if timed is not None:
            words.append(Word(text, timed[0], max(timed), who, confidence))
            i += 1
            continue
        j = i
        while j < len(raw) and raw[j][1] is None:
            j += 1
        lo = words[-1].end_s if words else seg[0]
        timed_after = raw[j][1] if j < len(raw) else None
        hi = timed_after[0] if timed_after is not None else seg[1]
        if lo is None:
            if hi is None:
                raise InputError(f"{where}: words without times in a segment without times")
            lo = hi
        elif hi is None:
            hi = lo
        run = raw[i:j]
        # Too little room (timed neighbours touching): ordered_words nudges what follows.
        hi = max(hi, lo + 0.02 * len(run))
        for (_, _, who_, _), est in zip(
            run, estimate_words(Cue(lo, hi, " ".join(r[0] for r in run))), strict=True
        ):
            # Interpolated times are a guess: the confidence says so.
            words.append(Word(est.text, est.start_s, est.end_s, who_, 0.0))
        i = j
    return words


def from_segments(segments: Iterable[object], *, source: str, name: str) -> Transcript:
    """Transcript from Whisper-family segments (parsed JSON dicts or faster-whisper objects)."""
    keyed = []
    for n, seg in enumerate(segments, 1):
        if not isinstance(seg, Mapping) and not hasattr(seg, "start"):
            raise InputError(f"{name} segment {n}: expected an object with start, end and text")
        where = f"{name} segment {n}"
        keyed.append((n, seg, _time(seg, "start", where), _time(seg, "end", where), where))
    if all(k[2] is not None for k in keyed):
        # Stable: segments that start together keep file order. (Every start is known here.)
        keyed.sort(key=lambda k: k[2] if k[2] is not None else 0.0)
    words: list[Word] = []
    spans: list[tuple[int, int]] = []
    for _, seg, start, end, where in keyed:
        speaker = _text(_field(seg, "speaker"))
        items = _field(seg, "words")
        if items:
            words.extend(_segment_words(items, (start, end), speaker, where))
            continue
        text = _text(_field(seg, "text"))
        if not text:
            continue
        if start is None or end is None or end <= start:
            raise InputError(f"{where}: text without timings ({_EXPECTED})")
        estimated = estimate_words(Cue(start, end, text, speaker))
        spans.append((len(words), len(words) + len(estimated) - 1))
        words.extend(estimated)
    if not words:
        raise InputError(f"{name}: no timed words in the JSON segments ({_EXPECTED})")
    words = ordered_words(words)
    timing: Timing = "cue" if spans else "word"
    return Transcript(
        tuple(words), tuple(sentences_from_words(words)), source, timing, tuple(spans)
    )


def to_json(transcript: Transcript) -> str:
    """clipflow's own transcript JSON; :func:`parse_json` reads it back unchanged."""
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "source": transcript.source,
        "timing": transcript.timing,
        "cue_spans": [list(s) for s in transcript.cue_spans],
        "language": transcript.language,
        "model": transcript.model,
        "words": [
            {
                "text": w.text,
                "start": w.start_s,
                "end": w.end_s,
                "speaker": w.speaker,
                "confidence": w.confidence,
            }
            for w in transcript.words
        ],
    }
    return json.dumps(doc, ensure_ascii=False, indent=1)


def _from_own(doc: Mapping[str, Any], name: str) -> Transcript:
    if doc.get("version") != VERSION:
        raise InputError(f"{name}: {FORMAT} version {doc.get('version')!r} (expected {VERSION})")
    timing = doc.get("timing", "word")
    if timing not in ("word", "cue"):
        raise InputError(f"{name}: timing {timing!r} (expected 'word' or 'cue')")
    words: list[Word] = []
    for n, item in enumerate(doc.get("words") or [], 1):
        where = f"{name} word {n}"
        start, end = _time(item, "start", where), _time(item, "end", where)
        text = _field(item, "text")
        if start is None or end is None or not isinstance(text, str) or not text:
            raise InputError(f"{where}: needs text, start and end")
        if end < start or (words and start < words[-1].start_s):
            raise InputError(f"{where}: {start:.3f}-{end:.3f} s is out of order")
        words.append(Word(text, start, end, _text(_field(item, "speaker")), _confidence(item)))
    if not words:
        raise InputError(f"{name}: {FORMAT} without words")
    spans = tuple((int(a), int(b)) for a, b in doc.get("cue_spans") or [])
    if any(not 0 <= a <= b < len(words) for a, b in spans):
        raise InputError(f"{name}: cue_spans {list(spans)} do not fit {len(words)} words")
    stated = doc.get("source")
    source = stated if isinstance(stated, str) else "json"
    language, model = _text(doc.get("language")), _text(doc.get("model"))
    sentences = tuple(sentences_from_words(words))
    return Transcript(tuple(words), sentences, source, timing, spans, language, model)


def parse_json(text: str, *, name: str) -> Transcript:
    """Read any supported JSON transcript, detected by its shape."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{name}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}) "
            "and no WebVTT/SRT cue times either"
        ) from exc
    if isinstance(doc, Mapping) and doc.get("format") == FORMAT:
        return _from_own(doc, name)
    segments: object
    if isinstance(doc, list):
        segments = doc  # faster-whisper segments dumped as a list
    elif isinstance(doc, Mapping):
        segments = doc.get("segments")
        if not segments and doc.get("word_segments"):
            segments = [{"words": doc["word_segments"]}]  # WhisperX words only
    else:
        segments = None
    if not segments or not isinstance(segments, list):
        raise InputError(f"{name}: JSON without timings ({_EXPECTED})")
    whisperx = (isinstance(doc, Mapping) and "word_segments" in doc) or any(
        isinstance(w, Mapping) and "score" in w
        for s in segments
        if isinstance(s, Mapping)
        for w in s.get("words") or []
    )
    source = "json:whisperx" if whisperx else "json:whisper"
    got = from_segments(segments, source=source, name=name)
    language = _text(doc.get("language")) if isinstance(doc, Mapping) else ""
    return replace(got, language=language) if language else got
