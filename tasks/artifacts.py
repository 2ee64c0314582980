"""Prefect artifacts for a job: summary, QA table, cost table. Keys validated before use:
Prefect rejects keys that are not lowercase letters, digits and dashes, failing the run."""

from __future__ import annotations

import re
from typing import Any, cast
from uuid import UUID

_KEY = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def artifact_key(*parts: str) -> str:
    """Join parts into a valid artifact key (lowercase, digits, dashes), or raise ValueError."""
    key = re.sub(r"[^a-z0-9]+", "-", "-".join(parts).lower()).strip("-")[:100].strip("-")
    if not _KEY.match(key):
        raise ValueError(f"cannot make an artifact key from {parts!r}")
    return key


def publish_job_artifacts(report: dict[str, Any], job_dir: str) -> None:
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    job = report["job_id"]
    qa = report["qa"]
    create_table_artifact(
        key=artifact_key("qa", job),
        table=[
            {
                "check": c["name"],
                "passed": c["passed"],
                "value": c["value"],
                "threshold": c["threshold"],
            }
            for c in qa["checks"]
        ],
        description=f"QA checks for job {job}: {'passed' if qa['passed'] else 'FAILED'}",
    )
    create_table_artifact(
        key=artifact_key("cost", job),
        table=report["cost"]["items"],
        description=f"Cost of job {job}: ${report['cost']['total_usd']:.4f}",
    )
    lines = [
        f"# clipflow job `{job}`",
        "",
        f"**Source** `{report['source']['uri']}` ({report['source']['duration_s']:.0f} s)",
        f"**QA** {'passed' if qa['passed'] else 'FAILED'} · LU spread "
        f"{qa['lu_spread']:.2f} · **cost** ${report['cost']['total_usd']:.4f}",
        "",
        "| # | time | duration | LUFS | face centred | passed | text |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in report["clips"]:
        lines.append(
            f"| [{c['index']}]({job_dir}/{c['path']}) | {c['start_s']:.1f}–{c['end_s']:.1f} s "
            f"| {c['duration_s']:.1f} s | {c['qa']['integrated_lufs']:.2f} "
            f"| {100 * c['qa']['face_centered_ratio']:.0f} % | {c['qa']['passed']} "
            f"| {c['text'][:80]}… |"
        )
    lines += ["", f"Report: {job_dir}/report.html"]
    create_markdown_artifact(
        key=artifact_key("job", job), markdown="\n".join(lines), description=f"clipflow job {job}"
    )


class ClipProgress:
    """A progress artifact for the job's clips, advanced as each clip's QA finishes."""

    def __init__(self, job_id: str, total: int) -> None:
        from prefect.artifacts import create_progress_artifact

        self.total, self.finished = max(1, total), 0
        # Outside an async context Prefect runs this synchronously and returns the id.
        self.id = cast(
            UUID,
            create_progress_artifact(
                progress=0.0,
                key=artifact_key("clips", job_id),
                description=f"Clips of job {job_id} rendered and checked ({total} planned)",
            ),
        )

    def done(self, outcome: Any) -> Any:
        """Count one finished clip (returns ``outcome`` unchanged, for use inline)."""
        from prefect.artifacts import update_progress_artifact

        self.finished += 1
        update_progress_artifact(self.id, progress=100.0 * self.finished / self.total)
        return outcome
