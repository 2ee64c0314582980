"""Cache keys are content: the names of things, where they live and what they cost are not."""

from __future__ import annotations

from types import SimpleNamespace

from blocks.settings import PipelineSettings
from tasks.caching import NOT_CONTENT, content_cache_key, settings_hash, stable_digest
from tasks.costs import CostItem
from tasks.records import RenderedClip

CTX = SimpleNamespace(task=SimpleNamespace(name="qa-clip"))


def _rendered(**changes: object) -> RenderedClip:
    base = dict(
        index=1, path="/w/clip-01.mp4", width=720, height=1280, encoder="libx264",
        integrated_lufs=-14.0, audio_renders=2,
    )  # fmt: skip
    return RenderedClip(**(base | changes))  # type: ignore[arg-type]


def test_a_records_costs_are_not_part_of_its_key() -> None:
    """CPU seconds differ from run to run: a stage re-run upstream must not re-run this one."""
    ran = _rendered(costs=(CostItem("render", "cpu", 12.5, "vcpu_s", 0.0),))
    again = _rendered(costs=(CostItem("render", "cpu", 13.1, "vcpu_s", 0.0),))
    assert content_cache_key(CTX, {"rendered": ran}) == content_cache_key(CTX, {"rendered": again})
    louder = _rendered(integrated_lufs=-13.0)
    assert content_cache_key(CTX, {"rendered": ran}) != content_cache_key(CTX, {"rendered": louder})


def test_not_content_is_the_settings_flags_plus_record_names() -> None:
    assert NOT_CONTENT == PipelineSettings.non_content_fields() | {"uri", "label", "costs"}


def test_the_settings_hash_ignores_where_things_live(tmp_path) -> None:
    a = PipelineSettings(home=tmp_path / "a", s3_endpoint_url="http://a")
    b = PipelineSettings(home=tmp_path / "b", s3_endpoint_url="http://b")
    assert settings_hash(a) == settings_hash(b) == stable_digest(a)[:16]
    assert settings_hash(a) != settings_hash(PipelineSettings(home=tmp_path, crf=24))
