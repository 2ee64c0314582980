"""The sample recording's transcript and the true topic of each sentence, without rendering.

:mod:`media.sample.script` plans the same turns that :func:`media.sample.generator.make_sample`
speaks;
here each sentence's length comes from its character count instead of espeak-ng, so building a
45-minute transcript takes milliseconds. Reactions ("Right.") belong to no topic (None).
"""

from __future__ import annotations

from media.sample.script import SPEECH_RATE, TOPICS, build_turns
from media.transcript.cues import Cue, from_cues
from media.transcript.records import Transcript

TOPIC_OF_LINE = {
    text: name for name, blocks in TOPICS.items() for _, lines in blocks for text in lines
}


def _length(speaker: str, text: str) -> int:
    """About espeak-ng's pace: ~0.36 s per six characters, plus onset and release."""
    return round((0.06 * len(text) + 0.25) * SPEECH_RATE)


def sample_transcript(minutes: float, seed: int = 0) -> tuple[Transcript, list[str | None]]:
    """The sample's transcript (one sentence per cue, as its WebVTT reads) and each sentence's
    true topic name."""
    turns = build_turns(minutes * 60.0, seed, _length)
    cues = [Cue(c.start_s, c.end_s, c.text, c.speaker) for t in turns for c in t.sentences]
    transcript = from_cues(cues, source="vtt")
    assert [s.text for s in transcript.sentences] == [c.text for c in cues]
    return transcript, [TOPIC_OF_LINE.get(c.text) for c in cues]


def true_cuts(topics: list[str | None]) -> list[int]:
    """Indices of the first scripted sentence of every topic after the first."""
    cuts, current = [], None
    for i, name in enumerate(topics):
        if name is None:
            continue
        if current is not None and name != current:
            cuts.append(i)
        current = name
    return cuts
