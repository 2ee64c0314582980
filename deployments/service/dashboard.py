"""The dashboard at ``/``: plain HTML, CSS and JavaScript from ``static/``, no build step. The
page holds the API key in the browser's session storage and calls the same API as anyone."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse

STATIC = Path(__file__).parent / "static"
router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def index() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html")


@router.get("/static/{name}")
def static_file(name: str) -> FileResponse:
    path = STATIC / name
    if path.parent != STATIC or not path.is_file():
        from fastapi import HTTPException

        raise HTTPException(404, f"{name}: no such file")
    return FileResponse(path)
