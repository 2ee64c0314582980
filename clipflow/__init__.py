"""The client side of ``clipflow serve``: the API's wire schema (:mod:`clipflow.schemas`) and a
small typed client (:mod:`clipflow.client`). It imports nothing of the pipeline, so a system
that only submits jobs installs httpx and pydantic, not ffmpeg and Prefect's stack."""
