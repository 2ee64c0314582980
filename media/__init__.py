"""clipflow's pure media core: probe records, the one ffmpeg runner, errors, source acceptance,
and a package per stage (transcript, selection, framing, render, sample). No Prefect import:
tasks/ wraps these functions (docs/ARCHITECTURE.md, "Layers")."""
