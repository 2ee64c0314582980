"""Create or update clipflow's ``cpu`` and ``gpu`` work pools (``python -m deployments.pools``).

Two shapes, one command:

* ``--type process`` (the default): one machine, or a few, each running
  ``prefect worker start --pool cpu`` / ``--pool gpu``; the pools get Prefect's default process
  template.
* ``--type kubernetes``: the pools get the base job templates in ``infra/k8s/``
  (``base-job-template-cpu.json``, ``base-job-template-gpu.json``), which put flow runs in the
  clipflow images, request an NVIDIA GPU and select and tolerate GPU nodes for the gpu pool.

The command states the desired pools: run it again and existing pools are updated to match (base
job template, concurrency limit), never duplicated. A pool of another type is refused, because
Prefect cannot change a pool's type in place.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from media.errors import ClipflowError

if TYPE_CHECKING:
    from prefect.client.orchestration import PrefectClient

PoolType = Literal["process", "kubernetes"]
POOL_TYPES: tuple[PoolType, ...] = ("process", "kubernetes")
TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "infra" / "k8s"


class PoolConflictError(ClipflowError):
    """A work pool of the wanted name exists with another type."""


@dataclass(frozen=True, slots=True)
class PoolSpec:
    """One work pool as it should be on the server."""

    name: str
    type: PoolType
    base_job_template: dict[str, Any]
    concurrency_limit: int | None
    description: str


def process_template() -> dict[str, Any]:
    """Prefect's default base job template for process workers (what the CLI would create)."""
    from prefect.workers.process import ProcessWorker

    return ProcessWorker.get_default_base_job_template()


def kubernetes_template(
    stage: Literal["cpu", "gpu"],
    *,
    image: str | None = None,
    namespace: str | None = None,
    template_dir: Path = TEMPLATE_DIR,
) -> dict[str, Any]:
    """The Kubernetes base job template of ``stage`` from ``template_dir``, with the ``image``
    and ``namespace`` variables' defaults replaced when given."""
    path = template_dir / f"base-job-template-{stage}.json"
    try:
        template = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ClipflowError(f"{path}: base job template not found (run from a checkout)") from exc
    properties = template.get("variables", {}).get("properties", {})
    for variable, value in (("image", image), ("namespace", namespace)):
        if value is None:
            continue
        if variable not in properties:
            raise ClipflowError(f"{path}: no {variable!r} variable to set to {value!r}")
        properties[variable]["default"] = value
    return template


def pool_specs(
    pool_type: PoolType,
    *,
    cpu_pool: str = "cpu",
    gpu_pool: str = "gpu",
    cpu_limit: int | None = None,
    gpu_limit: int | None = None,
    cpu_image: str | None = None,
    gpu_image: str | None = None,
    namespace: str | None = None,
    template_dir: Path = TEMPLATE_DIR,
) -> list[PoolSpec]:
    """The cpu and gpu pools for ``pool_type`` (pure: reads the templates, talks to no server)."""
    if pool_type not in POOL_TYPES:
        raise ValueError(f"pool type {pool_type!r}: expected one of {POOL_TYPES}")
    for label, limit in (("cpu", cpu_limit), ("gpu", gpu_limit)):
        if limit is not None and limit < 0:
            raise ValueError(f"{label} concurrency limit {limit}: expected >= 0 or None")
    if pool_type == "process":
        if cpu_image or gpu_image or namespace:
            raise ValueError("images and namespace apply to --type kubernetes only")
        cpu_template, gpu_template = process_template(), process_template()
    else:
        cpu_template = kubernetes_template(
            "cpu", image=cpu_image, namespace=namespace, template_dir=template_dir
        )
        gpu_template = kubernetes_template(
            "gpu", image=gpu_image, namespace=namespace, template_dir=template_dir
        )
    return [
        PoolSpec(
            cpu_pool,
            pool_type,
            cpu_template,
            cpu_limit,
            "clipflow: ingest, transcript, highlights, QA, publish (CPU).",
        ),
        PoolSpec(
            gpu_pool,
            pool_type,
            gpu_template,
            gpu_limit,
            "clipflow: framing and render stages, NVENC and CUDA (GPU).",
        ),
    ]


async def ensure_pool(client: PrefectClient, spec: PoolSpec) -> Literal["created", "updated"]:
    """Create ``spec``'s pool, or update its template, limit and description to match."""
    from prefect.client.schemas.actions import WorkPoolCreate, WorkPoolUpdate
    from prefect.exceptions import ObjectAlreadyExists

    try:
        await client.create_work_pool(
            WorkPoolCreate(
                name=spec.name,
                type=spec.type,
                description=spec.description,
                base_job_template=copy.deepcopy(spec.base_job_template),
                concurrency_limit=spec.concurrency_limit,
            )
        )
        return "created"
    except ObjectAlreadyExists:
        pass
    existing = await client.read_work_pool(spec.name)
    if existing.type != spec.type:
        raise PoolConflictError(
            f"work pool {spec.name!r} exists with type {existing.type!r}, wanted {spec.type!r}: "
            f"Prefect cannot change a pool's type; delete it first "
            f"(prefect work-pool delete {spec.name}) or choose another name"
        )
    # concurrency_limit is always sent, so None clears a limit set before (desired state).
    await client.update_work_pool(
        spec.name,
        WorkPoolUpdate(
            description=spec.description,
            base_job_template=copy.deepcopy(spec.base_job_template),
            concurrency_limit=spec.concurrency_limit,
        ),
    )
    return "updated"


async def ensure_pools(specs: Sequence[PoolSpec]) -> dict[str, str]:
    """Apply every spec against the configured Prefect API; pool name -> created | updated."""
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        return {spec.name: await ensure_pool(client, spec) for spec in specs}


def configured_api_url() -> str:
    """PREFECT_API_URL, or ClipflowError: without it Prefect would start a temporary server, and
    the pools (or automations) would vanish with it."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        raise ClipflowError(
            "PREFECT_API_URL is not set: point it at the Prefect server, e.g. "
            "export PREFECT_API_URL=http://127.0.0.1:4200/api"
        )
    return url


def _limit(text: str) -> int | None:
    if text.lower() in ("none", "unlimited"):
        return None
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text}: expected a count >= 0, or none")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deployments.pools",
        description="Create or update the cpu and gpu work pools on the Prefect API in "
        "PREFECT_API_URL (idempotent).",
    )
    parser.add_argument("--type", dest="pool_type", choices=POOL_TYPES, default="process")
    parser.add_argument("--cpu-pool", default="cpu", help="name of the cpu pool (default: cpu)")
    parser.add_argument("--gpu-pool", default="gpu", help="name of the gpu pool (default: gpu)")
    parser.add_argument(
        "--cpu-limit",
        type=_limit,
        default=None,
        help="most concurrent flow runs on the cpu pool (default: none = unlimited)",
    )
    parser.add_argument(
        "--gpu-limit",
        type=_limit,
        default=None,
        help="most concurrent flow runs on the gpu pool, e.g. the number of GPUs (default: none)",
    )
    parser.add_argument("--cpu-image", help="kubernetes: image of cpu flow runs")
    parser.add_argument("--gpu-image", help="kubernetes: image of gpu flow runs")
    parser.add_argument("--namespace", help="kubernetes: namespace of the flow-run jobs")
    parser.add_argument(
        "--template-dir",
        type=Path,
        default=TEMPLATE_DIR,
        help=f"kubernetes: folder of the base job templates (default: {TEMPLATE_DIR})",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        configured_api_url()
        specs = pool_specs(
            args.pool_type,
            cpu_pool=args.cpu_pool,
            gpu_pool=args.gpu_pool,
            cpu_limit=args.cpu_limit,
            gpu_limit=args.gpu_limit,
            cpu_image=args.cpu_image,
            gpu_image=args.gpu_image,
            namespace=args.namespace,
            template_dir=args.template_dir,
        )
    except (ValueError, ClipflowError) as exc:
        build_parser().error(str(exc))
    try:
        outcome = asyncio.run(ensure_pools(specs))
    except PoolConflictError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for spec in specs:
        limit = "none" if spec.concurrency_limit is None else spec.concurrency_limit
        print(f"{spec.name}: {outcome[spec.name]} ({spec.type}, concurrency limit {limit})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
