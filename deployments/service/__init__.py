"""``clipflow serve``: the job API, keys and limits, webhooks and the dashboard, over the job
database and Prefect (docs/ARCHITECTURE.md, "Orchestration")."""
