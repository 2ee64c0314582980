"""``/api/v1/jobs``: submit, read, list and cancel jobs; a client sees only its own."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response

from clipflow.schemas import FINAL_STATES, JobCreate, JobPage, JobState, JobView
from deployments.service.auth import Caller, require
from deployments.service.downloads import clip_titles
from deployments.service.state import ServiceState
from deployments.service.views import awaiting_rerun, job_view
from media.errors import InputError
from tasks.allowlist import check_locations
from tasks.jobs import JobNotFoundError, Role, job_id_for_run
from tasks.jobs.repository import jobs_of_flow_runs
from tasks.jobs.submissions import (
    SubmissionRecord,
    add_submission,
    find_by_idempotency_key,
    get_submission,
    list_submissions,
    mark_cancelled,
)

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])
Reader = Annotated[Caller, Depends(require(Role.READ))]
Submitter = Annotated[Caller, Depends(require(Role.SUBMIT))]


def _service(request: Request) -> ServiceState:
    return request.app.state.service  # type: ignore[no-any-return]


def views_of(
    state: ServiceState, subs: list[SubmissionRecord], detailed: bool = False
) -> list[JobView]:
    """The API's views of these submissions: two bulk reads, the job rows and the runs."""
    run_ids = [s.flow_run_id for s in subs]
    rows = jobs_of_flow_runs(state.db, run_ids)
    runs = state.prefect.read_many(run_ids)
    views = []
    for sub in subs:
        row, run = rows.get(sub.flow_run_id), runs.get(sub.flow_run_id)
        run_state = run.state.type.value if run and run.state else None
        message = run.state.message if run and run.state else None
        if run and awaiting_rerun(run_state, run.run_count, state.serve.crash_reruns):
            run_state, message = "SCHEDULED", None
        job_dir = row.job_dir if row else None

        def url_of(name: str, job_id: str = sub.job_id, where: str | None = job_dir) -> str:
            return state.downloads.url(job_id, where or "", name)

        views.append(
            job_view(
                sub,
                row,
                run_state,
                message,
                url_of=url_of,
                titles=clip_titles(job_dir) if detailed else None,
                stages_done=state.prefect.stages_done(sub.flow_run_id) if detailed else None,
            )
        )
    return views


def _own_submission(state: ServiceState, job_id: str, caller: Caller) -> SubmissionRecord:
    try:
        sub = get_submission(state.db, job_id)
    except JobNotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    if not caller.may_see(sub.client):
        raise HTTPException(403, f"job {job_id!r} belongs to another client")
    return sub


@router.post("", status_code=201, response_model=JobView)
def submit_job(
    body: JobCreate,
    request: Request,
    response: Response,
    caller: Submitter,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> JobView:
    """Start a job: a flow run of the process-video deployment. The same Idempotency-Key
    (per client) with the same body returns the first job instead of starting another."""
    state = _service(request)
    wanted: dict[str, Any] = body.model_dump(exclude_none=True)
    wanted.setdefault("out", state.serve.out or state.prefect.deployment_parameters().get("out"))
    if idempotency_key:
        earlier = find_by_idempotency_key(state.db, caller.client, idempotency_key)
        if earlier is not None:
            return _replayed(state, earlier, wanted, response)
    try:
        check_locations({k: wanted.get(k) for k in ("source", "transcript", "out")}, state.pipeline)
    except InputError as exc:
        raise HTTPException(422, str(exc)) from None
    run = state.prefect.create(
        wanted,
        idempotency_key=f"clipflow-serve:{caller.client}:{idempotency_key}"
        if idempotency_key
        else None,
        tags=["clipflow-serve", f"client:{caller.client}"],
    )
    sub, created = add_submission(
        state.db,
        job_id=job_id_for_run(str(run.id), run.created or datetime.now().astimezone()),
        client=caller.client,
        flow_run_id=str(run.id),
        idempotency_key=idempotency_key,
        request=wanted,
    )
    if not created:
        return _replayed(state, sub, wanted, response)
    response.headers["Location"] = f"/api/v1/jobs/{sub.job_id}"
    return views_of(state, [sub])[0]


def _replayed(
    state: ServiceState, earlier: SubmissionRecord, wanted: dict[str, Any], response: Response
) -> JobView:
    if earlier.request != wanted:
        raise HTTPException(
            409,
            f"Idempotency-Key already used for job {earlier.job_id} with another request "
            f"({earlier.request}); use a new key for a new job",
        )
    response.status_code = 200
    response.headers["Idempotent-Replayed"] = "true"
    return views_of(state, [earlier])[0]


@router.get("/{job_id}", response_model=JobView)
def read_job(job_id: str, request: Request, caller: Reader) -> JobView:
    """The job: state, stages done, clips with download URLs, QA verdicts, cost, errors."""
    state = _service(request)
    return views_of(state, [_own_submission(state, job_id, caller)], detailed=True)[0]


@router.get("", response_model=JobPage)
def list_jobs(
    request: Request,
    caller: Reader,
    state_is: Annotated[JobState | None, Query(alias="state")] = None,
    client: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=36)] = None,
) -> JobPage:
    """Jobs newest first, filtered by state, creation time and (admins) client; pass the
    answer's ``next_cursor`` as ``cursor`` for the next page."""
    state = _service(request)
    if client is not None and not caller.may_see(client):
        raise HTTPException(403, f"client {client!r}: a key sees only its own client's jobs")
    if caller.role is not Role.ADMIN:
        client = caller.client
    found: list[JobView] = []
    before = cursor
    while len(found) < limit:
        subs = list_submissions(
            state.db,
            client=client,
            before_job_id=before,
            created_after=created_after,
            created_before=created_before,
            limit=limit,
        )
        if not subs:
            return JobPage(jobs=found, next_cursor=None)
        for view in views_of(state, subs):
            before = view.id
            if state_is is None or view.state == state_is:
                found.append(view)
                if len(found) == limit:
                    break
        if len(subs) < limit and before == subs[-1].job_id:
            return JobPage(jobs=found, next_cursor=None)
    return JobPage(jobs=found, next_cursor=before)


@router.delete("/{job_id}", response_model=JobView)
def cancel_job(job_id: str, request: Request, caller: Submitter) -> JobView:
    """Cancel the job's flow run and record the job cancelled (409 if it already ended)."""
    state = _service(request)
    sub = _own_submission(state, job_id, caller)
    view = views_of(state, [sub])[0]
    if view.state in FINAL_STATES:
        raise HTTPException(409, f"job {job_id!r} already ended: {view.state}")
    state.prefect.cancel(sub.flow_run_id)
    return views_of(state, [mark_cancelled(state.db, job_id)])[0]
