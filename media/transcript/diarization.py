"""Who speaks when, from the audio alone: speaker turns for recordings without a sidecar.

The story (each step a pure function below):

1. speech regions (WebRTC VAD, :mod:`media.transcript.vad`) unless the caller has them;
2. ~1.5 s windows of speech every 0.75 s, each summarised by cepstral statistics
   (:mod:`media.transcript.speaker_features`);
3. speaker-change points where adjacent windows differ; the runs between them are segments;
4. average-linkage agglomerative clustering of segments on cosine distance, stopped at a
   distance threshold measured on real conversations (and at most ``max_speakers``); clusters
   holding too little speech are folded into their nearest neighbour, and clusters are merged
   while one full-covariance Gaussian fits their cepstral frames as well as two by the
   Bayesian information criterion on c1..c12 (ΔBIC < 0 with penalty weight λ = 2.55: one
   voice, not two);
5. smoothing: each window's label is decided by Viterbi over the windows with a cost for
   switching speaker, so a single stray window cannot flip a turn;
6. each 10 ms speech frame takes the label of the window centred nearest to it.

Labels are "S1", "S2", … in order of first appearance. :func:`assign_speakers` writes them
onto a :class:`~media.transcript.records.Transcript` so its sentences and turns split where
the speaker changes, as they do for a Zoom VTT sidecar.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from media.errors import InputError
from media.transcript.records import (
    SpeakerSegment,
    Transcript,
    Word,
    ends_sentence,
    sentences_from_words,
)
from media.transcript.speaker_features import (
    FRAME_S,
    RATE,
    Floats,
    Windows,
    cepstra,
    read_samples,
    speech_frame_mask,
    window_embeddings,
)
from media.transcript.vad import Region, pcm_speech_regions

__all__ = ["DiarizeParams", "SpeakerSegment", "assign_speakers", "diarize"]


@dataclass(frozen=True, slots=True)
class DiarizeParams:
    """Tunables of :func:`diarize`; defaults measured by tests/benchmarks/diarization.py.

    ``bic_penalty`` is tight: the largest λ at which a single-speaker file still splits was
    2.47 (mfa__acoustic_corpus, mfa__cold_corpus3), the smallest at which a conversation
    merges 2.60 (AMI dev00; the pyannote sample 2.64); 2.55 sits between them. With the BIC
    merge behind it, ``stop_distance`` 1.1 lets AMI dev00 split (1.15 does not) while no
    single-speaker file does (1.05 splits mfa__acoustic_corpus). ``bic_frames`` keeps one
    long voice one (musetalk__eng and gentle__lucier looped to 10 minutes); uncapped, the
    gain of any split outgrows the penalty as the recording gets longer.
    """

    win_s: float = 1.5  # window summarised into one vector
    hop_s: float = 0.75
    change_distance: float = 0.6  # cosine distance between neighbours that starts a segment
    stop_distance: float = 1.1  # average-linkage distance at which clustering stops
    min_share: float = 0.05  # clusters with less of the speech are folded into the nearest
    switch_cost: float = 0.3  # Viterbi penalty (in cosine distance) for changing speaker
    vad_aggressiveness: int = 2  # WebRTC VAD mode when no regions are given
    bic_penalty: float = 2.55  # ΔBIC parameter weight (λ): clusters below it are one voice
    bic_ceps: int = 12  # cepstra c1..c12 model the frames in the ΔBIC merge
    bic_frames: float = 2500.0  # frames counted at most per ΔBIC (25 s of speech)
    max_items: int = 2000  # segments clustered exactly; more are subsampled, then assigned


def agglomerate(
    vectors: npt.NDArray[np.float64],
    weights: npt.NDArray[np.float64],
    *,
    stop_distance: float,
    max_clusters: int,
) -> npt.NDArray[np.int64]:
    """Average-linkage clustering on cosine distance of unit ``vectors`` (weighted items).

    Merges the closest pair until the closest is farther than ``stop_distance`` and no more
    than ``max_clusters`` remain. Row minima are cached, so a merge costs O(n) typically.
    """
    n = len(vectors)
    labels = np.arange(n)
    if n <= 1:
        return labels
    dist = (1.0 - vectors @ vectors.T).astype(np.float64)
    np.fill_diagonal(dist, np.inf)
    size = weights.astype(np.float64).copy()
    alive = np.ones(n, dtype=bool)
    best = dist.argmin(axis=1)
    for remaining in range(n, 1, -1):
        rows = np.flatnonzero(alive)
        row_min = dist[rows, best[rows]]
        i = int(rows[row_min.argmin()])
        j = int(best[i])
        if dist[i, j] > stop_distance and remaining <= max_clusters:
            break
        # Lance-Williams update for average linkage: the merged row is the weighted mean.
        merged = (size[i] * dist[i] + size[j] * dist[j]) / (size[i] + size[j])
        dist[i], dist[:, i] = merged, merged
        dist[j], dist[:, j] = np.inf, np.inf
        dist[i, i] = np.inf
        size[i] += size[j]
        alive[j] = False
        labels[labels == j] = i
        best[i] = int(dist[i].argmin())
        for k in np.flatnonzero(alive & ((best == i) | (best == j))):
            best[k] = int(dist[k].argmin())
        closer = alive & (dist[:, i] < dist[np.arange(n), best])
        best[closer] = i
    return np.unique(labels, return_inverse=True)[1].astype(np.int64)


GaussStats = tuple[float, npt.NDArray[np.float64], npt.NDArray[np.float64]]


def gauss_stats(frames: npt.NDArray[np.float64]) -> GaussStats:
    """Sufficient statistics (count, sum, sum of outer products) of a full-covariance Gaussian."""
    return float(len(frames)), frames.sum(axis=0), frames.T @ frames


def _n_logdet(st: GaussStats) -> float:
    n, s, ss = st
    if n < 2:  # no frames of its own: costs nothing, so it merges first
        return 0.0
    mean = s / n
    cov = ss / n - np.outer(mean, mean) + 1e-6 * np.eye(len(mean))
    return n * float(np.linalg.slogdet(cov)[1])


def delta_bic(a: GaussStats, b: GaussStats, penalty: float, cap: float) -> float:
    """ΔBIC of modelling two frame sets by one full-covariance Gaussian each rather than one
    together: positive means two voices. ``penalty`` weighs the parameter count (λ).

    Frames are counted as if the two sets together held at most ``cap`` of them: neighbouring
    frames are far from independent, and uncapped, the likelihood gain of any split grows with
    the length of the recording while the penalty grows with its logarithm only, so one long
    voice would always become two.
    """
    both = (a[0] + b[0], a[1] + b[1], a[2] + b[2])
    d = len(a[1])
    scale = min(1.0, cap / both[0])
    gain = 0.5 * scale * (_n_logdet(both) - _n_logdet(a) - _n_logdet(b))
    return gain - penalty * 0.5 * (d + d * (d + 1) / 2) * float(np.log(scale * both[0]))


def merge_by_bic(
    frames: npt.NDArray[np.float64], frame_labels: npt.NDArray[np.int64],
    labels: npt.NDArray[np.int64], penalty: float, cap: float,
) -> npt.NDArray[np.int64]:  # fmt: skip
    """Merge clusters (window ``labels``; ``frame_labels`` index into them for each row of
    ``frames``) while the pair with the lowest ΔBIC has it below zero: one voice, not two.

    Clustering on within-recording standardised vectors always finds the recording's largest
    contrast, even in one voice; the frames' own Gaussians say whether it is worth two models.
    """
    labels = labels.copy()
    while (k := int(labels.max()) + 1) > 1:
        per_frame = labels[frame_labels]
        stats = [gauss_stats(frames[per_frame == i]) for i in range(k)]
        pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
        scores = [delta_bic(stats[i], stats[j], penalty, cap) for i, j in pairs]
        best = int(np.argmin(scores))
        if scores[best] >= 0:
            break
        i, j = pairs[best]
        labels[labels == j] = i
        labels = np.unique(labels, return_inverse=True)[1].astype(np.int64)
    return labels


def change_segments(vectors: Floats, spans: npt.NDArray[np.float64], threshold: float) -> list[int]:
    """Start indices of runs of windows with no speaker change inside.

    A run ends where two overlapping neighbours differ by more than ``threshold`` (cosine), or
    where the windows stop overlapping (a pause between speech regions).
    """
    starts = [0]
    for k in range(1, len(vectors)):
        gap = spans[k, 0] >= spans[k - 1, 1]
        if gap or 1.0 - float(vectors[k] @ vectors[k - 1]) > threshold:
            starts.append(k)
    return starts


def _centroids(vectors: Floats, labels: npt.NDArray[np.int64], k: int) -> npt.NDArray[np.float64]:
    c = np.stack([vectors[labels == i].mean(axis=0) for i in range(k)]).astype(np.float64)
    unit: npt.NDArray[np.float64] = c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-9)
    return unit


def fold_small(
    vectors: Floats, labels: npt.NDArray[np.int64], min_share: float
) -> npt.NDArray[np.int64]:
    """Move the windows of clusters holding under ``min_share`` of them to the nearest
    remaining cluster (never removing the largest)."""
    counts = np.bincount(labels)
    big = np.flatnonzero(counts >= max(min_share * len(labels), counts.max()))
    big = np.union1d(big, np.flatnonzero(counts >= min_share * len(labels)))
    if len(big) == len(counts):
        return labels
    cents = _centroids(vectors, labels, len(counts))[big]
    out = labels.copy()
    small = ~np.isin(labels, big)
    out[small] = big[np.argmax(vectors[small].astype(np.float64) @ cents.T, axis=1)]
    return np.unique(out, return_inverse=True)[1].astype(np.int64)


def viterbi(cost: npt.NDArray[np.float64], switch_cost: float) -> npt.NDArray[np.int64]:
    """Cheapest label path through (n, k) per-item costs, paying ``switch_cost`` per change."""
    n, k = cost.shape
    total = cost[0].copy()
    back = np.zeros((n, k), dtype=np.int64)
    for t in range(1, n):
        stay = total
        jump = total.min() + switch_cost
        back[t] = np.where(stay <= jump, np.arange(k), int(total.argmin()))
        total = np.minimum(stay, jump) + cost[t]
    path = np.zeros(n, dtype=np.int64)
    path[-1] = int(total.argmin())
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def nearest_windows(spans: npt.NDArray[np.float64], speech: npt.NDArray[np.int64]
                    ) -> npt.NDArray[np.int64]:  # fmt: skip
    """For each speech frame index, the window whose centre is nearest the frame's centre."""
    centres = spans.mean(axis=1)
    t = (speech + 0.5) * FRAME_S
    if len(centres) == 1:
        return np.zeros(len(t), dtype=np.int64)
    right = np.clip(np.searchsorted(centres, t), 1, len(centres) - 1)
    left = right - 1
    near = np.where(np.abs(t - centres[left]) <= np.abs(centres[right] - t), left, right)
    return near.astype(np.int64)


def cluster_windows(windows: Windows, frames: Floats, regions: Sequence[Region],
                    max_speakers: int, p: DiarizeParams) -> npt.NDArray[np.int64]:  # fmt: skip
    """A speaker index per window (0-based); ``frames`` are the recording's cepstra."""
    vectors, spans = windows.vectors, windows.spans
    starts = change_segments(vectors, spans, p.change_distance)
    bounds = [*starts, len(vectors)]
    seg_vecs = np.stack(
        [vectors[a:b].mean(axis=0) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    )
    seg_vecs = seg_vecs / np.maximum(np.linalg.norm(seg_vecs, axis=1, keepdims=True), 1e-9)
    weights = np.diff(bounds).astype(np.float64)
    pick = np.arange(len(seg_vecs))
    if len(pick) > p.max_items:
        pick = np.linspace(0, len(seg_vecs) - 1, p.max_items).round().astype(np.int64)
    seg_labels = agglomerate(seg_vecs[pick].astype(np.float64), weights[pick],
                             stop_distance=p.stop_distance, max_clusters=max_speakers)  # fmt: skip
    win_labels = np.repeat(np.arange(len(seg_vecs)), np.diff(bounds))
    if len(pick) < len(seg_vecs):  # the rest go to the nearest centroid of the sample
        sampled = np.isin(win_labels, pick)
        cents = _centroids(vectors[sampled], seg_labels[np.searchsorted(pick, win_labels[sampled])],
                           int(seg_labels.max()) + 1)  # fmt: skip
        labels = np.argmax(vectors.astype(np.float64) @ cents.T, axis=1).astype(np.int64)
    else:
        labels = seg_labels[win_labels]
    labels = fold_small(vectors, labels, p.min_share)
    if labels.max() == 0:
        return labels
    # Each window to its nearest centroid, then merge by ΔBIC on the frames each one is nearest.
    near = _centroids(vectors, labels, int(labels.max()) + 1)
    labels = np.argmax(vectors.astype(np.float64) @ near.T, axis=1).astype(np.int64)
    labels = np.unique(labels, return_inverse=True)[1].astype(np.int64)
    speech = np.flatnonzero(speech_frame_mask(len(frames), regions)).astype(np.int64)
    owner = nearest_windows(spans, speech)
    ceps = frames[speech, : p.bic_ceps].astype(np.float64)
    labels = merge_by_bic(ceps, owner, labels, p.bic_penalty, p.bic_frames)
    k = int(labels.max()) + 1
    if k == 1:
        return labels
    cents = _centroids(vectors, labels, k)
    return viterbi(1.0 - vectors.astype(np.float64) @ cents.T, p.switch_cost)


def frame_segments(spans: npt.NDArray[np.float64], labels: npt.NDArray[np.int64],
                   regions: Sequence[Region], n_frames: int) -> list[SpeakerSegment]:  # fmt: skip
    """Speech frames labelled by the window centred nearest them, joined into segments."""
    speech = np.flatnonzero(speech_frame_mask(n_frames, regions))
    if len(speech) == 0 or len(spans) == 0:
        return []
    frame_labels = labels[nearest_windows(spans, speech.astype(np.int64))]
    # Split where the label changes or frames are not contiguous.
    cut = np.flatnonzero((np.diff(frame_labels) != 0) | (np.diff(speech) != 1)) + 1
    out = []
    for a, b in zip([0, *cut], [*cut, len(speech)], strict=True):
        out.append(SpeakerSegment(round(float(speech[a] * FRAME_S), 3),
                                  round(float((speech[b - 1] + 1) * FRAME_S), 3),
                                  str(int(frame_labels[a]))))  # fmt: skip
    return out


def _relabel(segments: list[SpeakerSegment]) -> tuple[SpeakerSegment, ...]:
    names: dict[str, str] = {}
    for s in segments:
        names.setdefault(s.speaker, f"S{len(names) + 1}")
    return tuple(replace(s, speaker=names[s.speaker]) for s in segments)


def diarize(
    source: str | Path | Floats,
    *,
    max_speakers: int = 8,
    regions: Sequence[Region] | None = None,
    params: DiarizeParams = DiarizeParams(),
) -> tuple[SpeakerSegment, ...]:
    """Speaker segments of a recording (path, decoded by ffmpeg) or of 16 kHz mono samples."""
    if max_speakers < 1:
        raise InputError(f"max_speakers must be at least 1 (got {max_speakers})")
    samples = read_samples(source) if isinstance(source, (str, Path)) else source
    if samples.ndim != 1:
        raise InputError(f"diarize needs mono samples (got shape {samples.shape})")
    if regions is None:
        pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        regions = pcm_speech_regions(pcm, RATE, aggressiveness=params.vad_aggressiveness)
    frames = cepstra(samples)
    windows = window_embeddings(frames, regions, win_s=params.win_s, hop_s=params.hop_s)
    if len(windows.vectors) == 0:
        return ()
    labels = cluster_windows(windows, frames, regions, max_speakers, params)
    return _relabel(frame_segments(windows.spans, labels, regions, len(frames)))


def _speaker_at(start: float, end: float, segments: Sequence[SpeakerSegment],
                starts: Sequence[float], longest: float) -> str:  # fmt: skip
    """The speaker covering most of [start, end]; the nearest segment's when none overlaps.

    ``segments`` are sorted by start (``starts``); ``longest`` bounds how far back to look.
    """
    cover: dict[str, float] = {}
    k = bisect.bisect_left(starts, start - longest)
    while k < len(segments) and starts[k] < end:
        s = segments[k]
        if (o := min(end, s.end_s) - max(start, s.start_s)) > 0:
            cover[s.speaker] = cover.get(s.speaker, 0.0) + o
        k += 1
    if cover:
        return max(cover, key=lambda who: cover[who])
    mid = (start + end) / 2
    k = bisect.bisect_left(starts, mid)
    near = [segments[i] for i in (k - 1, k) if 0 <= i < len(segments)]
    return min(near, key=lambda s: min(abs(mid - s.start_s), abs(mid - s.end_s))).speaker


def assign_speakers(transcript: Transcript, segments: Sequence[SpeakerSegment]) -> Transcript:
    """Each word labelled with the speaker covering most of its time; sentences regrouped so
    that a speaker change ends a sentence (turns follow from sentences).

    A sentence the recogniser punctuated keeps one speaker, the one holding most of its time:
    people rarely hand over mid-sentence, and a split there (the clustering flipping for a
    second) would leave a fragment for a title or a clip boundary. Unpunctuated stretches
    (pocketsphinx utterances, plain cues) are labelled word by word.
    """
    if not segments:
        return transcript
    ordered = sorted(segments, key=lambda s: s.start_s)
    starts = [s.start_s for s in ordered]
    longest = max(s.end_s - s.start_s for s in ordered)
    words: list[Word] = [
        replace(w, speaker=_speaker_at(w.start_s, w.end_s, ordered, starts, longest))
        for w in transcript.words
    ]
    for s in transcript.sentences:
        if s.last_word > s.first_word and ends_sentence(transcript.words[s.last_word].text):
            span = words[s.first_word : s.last_word + 1]
            held: dict[str, float] = {}
            for w in span:
                held[w.speaker] = held.get(w.speaker, 0.0) + w.end_s - w.start_s
            who = max(held, key=lambda k: held[k])
            words[s.first_word : s.last_word + 1] = [replace(w, speaker=who) for w in span]
    return replace(transcript, words=tuple(words), sentences=tuple(sentences_from_words(words)))
