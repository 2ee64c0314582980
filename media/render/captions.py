"""Captions of one clip: word-timed cues, and their SRT, WebVTT and ASS (burn-in) texts.

Pure apart from :func:`write_clip_captions`. Cues follow common subtitle guidance (BBC subtitle
guidelines, Netflix timed-text style guide): at most two lines of about 32 characters and
about 3 s on screen; a cue ends at a sentence end, a change of speaker or a pause, and when it
fills up it breaks after a clause (comma) where it can; a word is never split. Every cue keeps
its words with their clip-relative times, so WebVTT carries word timing and the burn-in
highlights the word being said.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from media.transcript.cues import format_timestamp
from media.transcript.records import Transcript, Word

MAX_LINE_CHARS = 32
MAX_CUE_S = 3.0
PAUSE_S = 0.5  # a silence at least this long between words ends the cue
BURN_IN_LINE_CHARS = 24  # portrait burn-in: shorter lines, so the text can be larger
HOLD_S = 0.5  # the burn-in keeps a cue this long after its last word (unless the next starts)
HIGHLIGHT = "&H0000D7FF&"  # ASS BGR: the gold (255, 215, 0) of the word being said
_CLAUSE = re.compile(r"[,;:\u2013\u2014-][\"')\]]*$")
_EPS = 1e-6


@dataclass(frozen=True, slots=True)
class CaptionCue:
    """One caption on screen: up to two lines of words (clip-relative times) by one speaker."""

    lines: tuple[tuple[Word, ...], ...]
    speaker: str = ""

    @property
    def words(self) -> tuple[Word, ...]:
        return tuple(w for line in self.lines for w in line)

    @property
    def start_s(self) -> float:
        return self.lines[0][0].start_s

    @property
    def end_s(self) -> float:
        return self.lines[-1][-1].end_s

    @property
    def text(self) -> str:
        return "\n".join(_line_text(line) for line in self.lines)


# --- cues ---------------------------------------------------------------------------------------


def clip_words(transcript: Transcript, start_s: float, end_s: float) -> list[tuple[Word, bool]]:
    """The words wholly inside [start_s, end_s], clip-relative (ms), each with whether it ends a
    sentence of the transcript. Words crossing a bound are left out."""
    if end_s <= start_s:
        raise ValueError(f"clip bounds {start_s:.3f}–{end_s:.3f} s: the end must follow the start")
    ends = {s.last_word for s in transcript.sentences}
    duration = round(end_s - start_s, 3)
    out: list[tuple[Word, bool]] = []
    for i, w in enumerate(transcript.words):
        if w.start_s < start_s - _EPS or w.end_s > end_s + _EPS or not w.text.strip():
            continue
        # Clamp into [0, duration]; a word of under a millisecond keeps one (cues need end > start).
        start = min(max(0.0, round(w.start_s - start_s, 3)), duration - 0.001)
        end = min(max(start + 0.001, round(w.end_s - start_s, 3)), duration)
        word = Word(w.text.strip(), start, end, w.speaker, w.confidence)
        out.append((word, i in ends))
    return out


def build_cues(
    words: Sequence[tuple[Word, bool]],
    *,
    max_chars: int = MAX_LINE_CHARS,
    max_s: float = MAX_CUE_S,
    pause_s: float = PAUSE_S,
) -> list[CaptionCue]:
    """Group (word, ends_sentence) pairs into cues of ≤ 2 lines of ≤ ``max_chars`` (a longer
    single word gets a line of its own) lasting ≤ ``max_s``.

    Sentence ends, speaker changes and pauses always end a cue; each run between them is
    split into the fewest cues that fit, as evenly filled as possible, ending after a clause
    mark where that costs nothing, so no cue is left with an orphaned word or two.
    """
    if max_chars < 8:
        raise ValueError(f"max_chars={max_chars}: lines under 8 characters are unreadable")
    runs: list[list[Word]] = []
    previous_ends = False
    for word, ends_sentence in words:
        if runs and not _hard_break(runs[-1][-1], word, previous_ends, pause_s):
            runs[-1].append(word)
        else:
            runs.append([word])
        previous_ends = ends_sentence
    cues = []
    for run in runs:
        for group in _partition(run, max_chars, max_s):
            lines = _layout(group, max_chars)
            assert lines is not None  # _partition only yields groups that fit
            cues.append(CaptionCue(tuple(tuple(line) for line in lines), group[0].speaker))
    return cues


def _partition(run: list[Word], max_chars: int, max_s: float) -> list[list[Word]]:
    """Split one run of words into cues by dynamic programming over the break points: each cue
    costs 1, plus its squared unused share of two lines, minus a little when it ends on a
    clause mark inside the run."""
    n = len(run)
    best: list[tuple[float, int]] = [(0.0, 0)] + [(float("inf"), 0)] * n  # (cost, cue start)
    for i in range(n):
        if best[i][0] == float("inf"):
            continue
        for j in range(i + 1, n + 1):
            group = run[i:j]
            if not _fits(group, max_chars, max_s):
                break  # longer groups from i cannot fit either (times rise, text grows)
            fill = min(1.0, len(_line_text(group)) / (2 * max_chars))
            cost = best[i][0] + 1.0 + (1.0 - fill) ** 2
            if j < n and _CLAUSE.search(group[-1].text):
                cost -= 0.3
            if cost < best[j][0]:
                best[j] = (cost, i)
    groups, j = [], n
    while j > 0:
        i = best[j][1]
        groups.append(run[i:j])
        j = i
    return groups[::-1]


def clip_cues(
    transcript: Transcript, start_s: float, end_s: float, *, max_chars: int = MAX_LINE_CHARS
) -> list[CaptionCue]:
    """Caption cues of one clip, times relative to the clip's start."""
    return build_cues(clip_words(transcript, start_s, end_s), max_chars=max_chars)


def _line_text(words: Sequence[Word]) -> str:
    return " ".join(w.text for w in words)


def _hard_break(prev: Word, word: Word, prev_ends_sentence: bool, pause_s: float) -> bool:
    paused = word.start_s - prev.end_s >= pause_s
    return prev_ends_sentence or prev.speaker != word.speaker or paused


def _fits(words: list[Word], max_chars: int, max_s: float) -> bool:
    if len(words) == 1:
        return True
    return words[-1].end_s - words[0].start_s <= max_s and _layout(words, max_chars) is not None


def _layout(words: list[Word], max_chars: int) -> list[list[Word]] | None:
    """One line when it fits, else the most balanced two-line break (ties: after a clause);
    None when no break gives two lines of ≤ ``max_chars``."""
    if len(words) == 1 or len(_line_text(words)) <= max_chars:
        return [words]
    best: tuple[tuple[int, int], int] | None = None
    for k in range(1, len(words)):
        top, bottom = len(_line_text(words[:k])), len(_line_text(words[k:]))
        if top > max_chars or bottom > max_chars:
            continue
        score = (max(top, bottom), 0 if _CLAUSE.search(words[k - 1].text) else 1)
        if best is None or score < best[0]:
            best = (score, k)
    if best is None:
        return None
    return [words[: best[1]], words[best[1] :]]


# --- writers ------------------------------------------------------------------------------------


def to_srt(cues: Sequence[CaptionCue]) -> str:
    """SubRip: numbered cues from the first word's start to the last word's end."""
    blocks = [
        f"{i}\n{format_timestamp(c.start_s, srt=True)} --> {format_timestamp(c.end_s, srt=True)}"
        f"\n{c.text}\n"
        for i, c in enumerate(cues, 1)
    ]
    return "\n".join(blocks)


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(cues: Sequence[CaptionCue]) -> str:
    """WebVTT with word timing: a timestamp tag (``<00:00:01.250>``) before every word after the
    first, and a voice span (``<v Name>``) when the speaker is known (W3C WebVTT §4.2.2)."""
    blocks = ["WEBVTT\n"]
    for c in cues:
        last_tag = c.start_s
        lines = []
        for line in c.lines:
            parts = []
            for w in line:
                text = _vtt_escape(w.text)
                # Tags must rise strictly inside the cue; a word sharing a millisecond keeps
                # the previous word's timing.
                if w is not c.lines[0][0] and last_tag < w.start_s < c.end_s:
                    text = f"<{format_timestamp(w.start_s)}>{text}"
                    last_tag = w.start_s
                parts.append(text)
            lines.append(" ".join(parts))
        if c.speaker:
            lines[0] = f"<v {_vtt_escape(c.speaker)}>{lines[0]}"
        timing = f"{format_timestamp(c.start_s)} --> {format_timestamp(c.end_s)}"
        blocks.append(f"{timing}\n" + "\n".join(lines) + "\n")
    return "\n".join(blocks)


def ass_font_size(width: int, height: int, line_chars: int) -> int:
    """A font size (ASS units: ≈ line height in output pixels) that fits ``line_chars`` of
    DejaVu Sans Bold in 88 % of the width (≈ 0.52 em per character, measured with libass),
    at most 6 % of the height."""
    return max(12, int(min(0.06 * height, 0.88 * width / (0.52 * max(16, line_chars)))))


def ass_margin_v(width: int, height: int) -> int:
    """Bottom margin: portrait feeds lay their buttons and captions over the bottom ~20 %."""
    return int(round(height * (0.22 if height > width else 0.08)))


def _centis(seconds: float) -> int:
    """ASS times count whole centiseconds; a negative time is clamped to 0."""
    return int(round(max(0.0, seconds) * 100))


def _ass_time(seconds: float) -> str:
    """``H:MM:SS.cc``, the ASS event time (hours unpadded, centiseconds). Kept apart from
    :func:`media.transcript.cues.format_timestamp` (WebVTT, SRT): another unit and padding,
    and :func:`_centis`'s rounding also decides which burn-in events are too short to show."""
    cs = _centis(seconds)
    h, rem = divmod(cs, 360_000)
    m, rem = divmod(rem, 6000)
    s, cs = divmod(rem, 100)
    return f"{h}:{m:02d}:{s:02d}.{cs:02d}"


def _ass_escape(text: str) -> str:
    """ASS has no escape for braces (override blocks) and reads ``\\N``-style codes: swap them."""
    return text.replace("\\", "\u29f5").replace("{", "(").replace("}", ")")


def to_ass(cues: Sequence[CaptionCue], width: int, height: int) -> str:
    """ASS (v4.00+) script for burning in at ``width``×``height``: white bold text with a black
    outline, bottom-centred above the platform's UI, the word being said in gold.

    One event per word (from its start to the next word's start) shows the whole cue with that
    word highlighted; the last word holds until the next cue or ``HOLD_S`` after it ends.
    """
    longest = max((len(_line_text(line)) for c in cues for line in c.lines), default=16)
    size = ass_font_size(width, height, longest)
    outline = max(2, round(size * 0.08))
    margin_h = round(width * 0.06)
    head = (
        "[Script Info]\nScriptType: v4.00+\n"
        f"PlayResX: {width}\nPlayResY: {height}\n"
        "WrapStyle: 0\nScaledBorderAndShadow: yes\nYCbCr Matrix: TV.709\n\n"
        "[V4+ Styles]\nFormat: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, "
        "OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, "
        "Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, "
        "Encoding\n"
        f"Style: Caption,DejaVu Sans,{size},&H00FFFFFF,&H00FFFFFF,&H00000000,&H80000000,"
        f"-1,0,0,0,100,100,0,0,1,{outline},1,2,{margin_h},{margin_h},"
        f"{ass_margin_v(width, height)},1\n\n"
        "[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, "
        "Text\n"
    )
    events = []
    for i, c in enumerate(cues):
        shown_until = c.end_s + HOLD_S
        if i + 1 < len(cues):
            shown_until = min(shown_until, cues[i + 1].start_s)
        shown_until = max(shown_until, c.end_s)
        words = c.words
        for k, current in enumerate(words):
            start = current.start_s
            end = words[k + 1].start_s if k + 1 < len(words) else shown_until
            if _centis(end) <= _centis(start):
                continue
            text = r"\N".join(
                " ".join(
                    f"{{\\1c{HIGHLIGHT}}}{_ass_escape(w.text)}{{\\r}}"
                    if w is current
                    else _ass_escape(w.text)
                    for w in line
                )
                for line in c.lines
            )
            events.append(
                f"Dialogue: 0,{_ass_time(start)},{_ass_time(end)},Caption,,0,0,0,,{text}\n"
            )
    return head + "".join(events)


def write_clip_captions(
    transcript: Transcript,
    start_s: float,
    end_s: float,
    folder: str | Path,
    stem: str,
    *,
    burn_in_size: tuple[int, int] | None = None,
) -> dict[str, Path]:
    """Write ``stem.srt`` and ``stem.vtt`` (and ``stem.ass`` for burning in at ``burn_in_size``,
    with shorter lines in portrait) for the clip [start_s, end_s]; returns {format: path}."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    words = clip_words(transcript, start_s, end_s)
    cues = build_cues(words)
    paths = {"srt": folder / f"{stem}.srt", "vtt": folder / f"{stem}.vtt"}
    paths["srt"].write_text(to_srt(cues), encoding="utf-8")
    paths["vtt"].write_text(to_vtt(cues), encoding="utf-8")
    if burn_in_size is not None:
        width, height = burn_in_size
        chars = BURN_IN_LINE_CHARS if height > width else MAX_LINE_CHARS
        paths["ass"] = folder / f"{stem}.ass"
        paths["ass"].write_text(
            to_ass(build_cues(words, max_chars=chars), width, height), encoding="utf-8"
        )
    return paths
