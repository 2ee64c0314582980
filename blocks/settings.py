"""Pipeline settings: every tunable in one place, bounded, documented, overridable by env.

Environment variables use the ``CLIPFLOW_`` prefix (``CLIPFLOW_TARGET_LUFS=-16``). This module
imports no Prefect, so the CLI and ``media/`` callers stay fast; the Prefect block that stores
these values lives beside it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic.json_schema import JsonDict
from pydantic_settings import BaseSettings, SettingsConfigDict

Aspect = Literal["9:16", "1:1", "16:9"]

# Flags on a field (``json_schema_extra``):
# - LOCAL: where *this* machine keeps things or who it is. Never sent to another machine (a gpu
#   worker's own environment supplies it) and never part of a cache key.
# - NOT_CONTENT: how a stage reaches storage, not what it computes: left out of cache keys and
#   of the settings hash, so the same bytes under another endpoint reuse the same results.
LOCAL: JsonDict = {"local": True, "content": False}
NOT_CONTENT: JsonDict = {"content": False}


def default_home() -> Path:
    return Path(os.environ.get("CLIPFLOW_HOME", Path.home() / ".clipflow"))


class PipelineSettings(BaseSettings):
    """What a job does and how strictly it is checked.

    Defaults: docs/ARCHITECTURE.md, "QA thresholds".
    """

    model_config = SettingsConfigDict(env_prefix="CLIPFLOW_", extra="ignore")

    # --- where things live -------------------------------------------------------------------
    home: Path = Field(
        default_factory=default_home,
        json_schema_extra=LOCAL,
        description="clipflow's home: work dirs, job database, Prefect state.",
    )
    database_url: str | None = Field(
        default=None,
        json_schema_extra=LOCAL,
        description="SQLAlchemy URL of the job database; default sqlite:///<home>/jobs.sqlite.",
    )

    # --- what runs may read and write (docs/ARCHITECTURE.md, "Orchestration") -----------
    allowed_roots: list[Path] = Field(
        default_factory=list,
        json_schema_extra=LOCAL,
        description="Local folders that runs started through a deployment (the API, the UI, "
        "events) may read sources from and write jobs to; the CLI's own runs may use any path.",
    )
    allowed_s3: list[str] = Field(
        default_factory=list,
        json_schema_extra=LOCAL,
        description="s3://bucket/prefix locations that deployment runs may read and write.",
    )

    # --- clip selection ------------------------------------------------------------------------
    max_clips: int = Field(5, ge=1, le=20, description="Most clips a job delivers.")
    min_clip_s: float = Field(15.0, ge=3.0, le=120.0, description="Shortest clip, seconds.")
    max_clip_s: float = Field(60.0, ge=5.0, le=300.0, description="Longest clip, seconds.")
    min_gap_s: float = Field(5.0, ge=0.0, le=600.0, description="Least gap between clips, s.")
    lead_in_s: float = Field(
        0.25, ge=0.0, le=1.0, description="Silence kept before a clip's first word, at most."
    )
    tail_out_s: float = Field(
        0.4, ge=0.0, le=1.5, description="Silence kept after a clip's last word, at most."
    )

    # --- framing ---------------------------------------------------------------------------
    aspect: Aspect = Field("9:16", description="Output aspect ratio.")
    analysis_fps: float = Field(5.0, ge=1.0, le=30.0, description="Face-analysis sample rate.")
    analysis_width: int = Field(
        640, ge=160, le=1920, description="Face-analysis frame size: its long side, pixels."
    )
    no_face_fill: Literal["center", "blur"] = Field(
        "center",
        description="With no face: a centred crop, or the whole frame over a blurred copy.",
    )
    max_zoom: float = Field(
        2.0,
        ge=1.0,
        le=4.0,
        description="Largest zoom into a group in a source as narrow as the output, or into "
        "one call tile when faces are stacked in the window (2 = a window half the plain "
        "crop's width and height, upscaled twice as much).",
    )
    burn_captions: bool = Field(False, description="Burn word-timed captions into the picture.")

    # --- encode ----------------------------------------------------------------------------
    x264_preset: Literal["superfast", "veryfast", "faster", "fast", "medium", "slow"] = Field(
        "veryfast", description="libx264 preset (ultrafast is refused: it yields Baseline)."
    )
    crf: int = Field(20, ge=12, le=32, description="libx264 constant rate factor.")
    max_fps: float = Field(30.0, ge=1.0, le=30.0, description="Output frame-rate cap (level 4.0).")
    encoder: Literal["auto", "libx264", "h264_nvenc"] = Field(
        "auto", description="auto: NVENC where a working NVIDIA encoder is present, else libx264."
    )

    # --- loudness ---------------------------------------------------------------------------
    target_lufs: float = Field(-14.0, ge=-31.0, le=-9.0, description="Integrated target, LUFS.")
    lufs_tolerance: float = Field(0.5, gt=0.0, le=3.0, description="Allowed |clip − target|, LU.")
    max_lu_spread: float = Field(1.5, gt=0.0, le=6.0, description="Allowed max − min, LU.")
    max_true_peak_dbtp: float = Field(-1.0, ge=-9.0, le=0.0, description="True-peak ceiling.")

    # --- QA ---------------------------------------------------------------------------------
    face_center_tolerance: float = Field(
        0.10, gt=0.0, le=0.5, description="Face centre within this fraction of the width."
    )
    min_face_centered_ratio: float = Field(
        0.90, ge=0.0, le=1.0, description="Share of sampled frames with a centred face."
    )
    qa_sample_fps: float = Field(2.0, ge=0.5, le=30.0, description="QA face-sampling rate.")
    max_job_usd: float = Field(4.0, gt=0.0, description="Per-job cost ceiling, USD.")

    # --- object storage ---------------------------------------------------------------------
    s3_endpoint_url: str | None = Field(
        None, json_schema_extra=NOT_CONTENT, description="S3 endpoint (MinIO, moto, …)."
    )
    s3_region: str = Field("us-east-1", json_schema_extra=NOT_CONTENT, description="S3 region.")
    s3_connect_timeout_s: float = Field(
        10.0,
        json_schema_extra=NOT_CONTENT,
        gt=0,
        le=120,
        description="Seconds to open an S3 connection before retrying.",
    )
    s3_read_timeout_s: float = Field(
        60.0,
        json_schema_extra=NOT_CONTENT,
        gt=0,
        le=600,
        description="Seconds S3 may go silent before the request is retried.",
    )
    s3_max_attempts: int = Field(
        5,
        json_schema_extra=NOT_CONTENT,
        ge=1,
        le=20,
        description="Tries per S3 request (botocore's standard retry mode).",
    )
    aws_access_key_id: SecretStr | None = Field(
        None, json_schema_extra=LOCAL, description="S3 access key id."
    )
    aws_secret_access_key: SecretStr | None = Field(
        None, json_schema_extra=LOCAL, description="S3 secret key."
    )
    aws_credentials_block: str | None = Field(
        None,
        json_schema_extra=NOT_CONTENT,
        min_length=1,
        description="Name of a saved prefect-aws AwsCredentials block to build S3 clients from "
        "(its keys, profile or role, endpoint and region); replaces the access key fields.",
    )

    # --- ingest ------------------------------------------------------------------------------
    sidecar_wait_s: float = Field(
        60.0,
        json_schema_extra=NOT_CONTENT,
        ge=0,
        le=3600,
        description="For an S3 recording given no transcript: seconds after its upload that "
        "a same-stem .vtt/.srt/.json sidecar may still arrive and is used instead of ASR.",
    )

    # --- ASR --------------------------------------------------------------------------------
    asr_engine: Literal["auto", "pocketsphinx", "faster-whisper"] = Field(
        "auto",
        description="Speech recognizer used when no transcript is given. auto: faster-whisper "
        "with the packaged Whisper models (or whisper_model), pocketsphinx when the model "
        "package is absent.",
    )
    asr_language: str = Field(
        "",
        max_length=3,
        description="Spoken language as an ISO 639-1 code (en, de, fr, ...); empty: detected "
        "with the multilingual model when installed, else English.",
    )
    whisper_model: str | None = Field(
        None,
        description="Local CTranslate2 model directory used instead of the packaged Whisper "
        "models (never fetched).",
    )
    whisper_device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="faster-whisper device: auto picks CUDA when present."
    )
    whisper_compute_type: str = Field(
        "auto", description="faster-whisper compute type: auto = float16 on CUDA, int8 on CPU."
    )
    refine_word_times: bool = Field(
        True, description="Move estimated word times onto speech-activity edges in the audio."
    )
    diarize: bool = Field(
        True,
        description="Find who speaks when from the audio when the transcript names no speakers.",
    )
    max_speakers: int = Field(
        4, ge=1, le=8, description="Most speakers diarization tells apart in one recording."
    )

    # --- highlights -------------------------------------------------------------------------
    min_clip_score: float = Field(
        0.55,
        ge=0.0,
        le=1.0,
        description="Quality floor: fewer clips rather than one scoring below this (0..1).",
    )
    topic_vectors: Literal["auto", "minilm", "tfidf"] = Field(
        "auto",
        description="Sentence vectors for topic segmentation: MiniLM embeddings when the model "
        "package is installed (auto), else TF-IDF.",
    )

    @classmethod
    def local_fields(cls) -> frozenset[str]:
        """Fields flagged LOCAL: this machine's own, never sent to another."""
        return _flagged(cls, "local")

    @classmethod
    def non_content_fields(cls) -> frozenset[str]:
        """Fields that do not change what a stage computes (LOCAL and NOT_CONTENT)."""
        return frozenset(
            name
            for name, info in cls.model_fields.items()
            if isinstance(info.json_schema_extra, dict)
            and info.json_schema_extra.get("content") is False
        )

    def portable(self) -> dict[str, Any]:
        """The settings as JSON for another machine (a gpu worker), without the LOCAL ones."""
        return self.model_dump(mode="json", exclude=set(self.local_fields()))

    @property
    def work_dir(self) -> Path:
        return self.home / "work"

    @property
    def job_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'jobs.sqlite'}"

    @property
    def output_size(self) -> tuple[int, int]:
        """Largest output frame for the aspect that H.264 level 4.0 allows at 30 fps."""
        return {"9:16": (1080, 1920), "1:1": (1080, 1080), "16:9": (1920, 1080)}[self.aspect]


def reject_unknown_fields(model: type[BaseSettings], names: Iterable[str]) -> None:
    """Refuse names that are not fields of ``model``: pydantic-settings would drop them silently."""
    unknown = sorted(set(names) - model.model_fields.keys())
    if unknown:
        raise TypeError(
            f"unknown {model.__name__} field(s) {unknown}; expected some of "
            f"{sorted(model.model_fields)}"
        )


def env_values(model: type[BaseSettings]) -> dict[str, Any]:
    """The fields of ``model`` that its environment variables set, parsed and validated.

    pydantic-settings marks exactly the values that came from a source (here: the environment,
    under the model's env prefix) as set; defaults are not.
    """
    from_env = model()
    return {name: getattr(from_env, name) for name in from_env.model_fields_set}


def _flagged(model: type[BaseSettings], flag: str) -> frozenset[str]:
    return frozenset(
        name
        for name, info in model.model_fields.items()
        if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get(flag)
    )


class CostRates(BaseSettings):
    """Prices for the cost ledger (on-demand list prices, November 2026; override per site).

    Environment variables use the ``CLIPFLOW_COST_`` prefix (``CLIPFLOW_COST_GPU_HOUR_USD=2.5``).
    """

    model_config = SettingsConfigDict(env_prefix="CLIPFLOW_COST_", extra="ignore")

    cpu_vcpu_hour_usd: float = Field(0.048, ge=0.0, le=10.0, description="Per vCPU-hour, cpu pool.")
    gpu_hour_usd: float = Field(1.10, ge=0.0, le=100.0, description="Per GPU-hour, gpu pool.")
    asr_minute_usd: float = Field(
        0.0, ge=0.0, le=1.0, description="Per audio minute of a paid ASR; 0 for offline ASR."
    )
    s3_request_usd: float = Field(
        0.0000004, ge=0.0, le=0.01, description="Per S3 GET/HEAD request."
    )
    s3_put_request_usd: float = Field(
        0.000005, ge=0.0, le=0.01, description="Per S3 PUT/LIST request."
    )
    s3_storage_gb_month_usd: float = Field(
        0.023, ge=0.0, le=1.0, description="Per GB-month of published outputs kept in S3."
    )
    s3_transfer_gb_usd: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Per GB read from S3: 0 inside the bucket's region, ~0.09 from outside.",
    )
