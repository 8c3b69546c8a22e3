"""Voicebox's task view: downloads and generations in progress."""

from __future__ import annotations

from typing import Any

from voicebox_core.server.state import ServerState

__all__ = ["active", "clear"]


def active(state: ServerState) -> dict[str, Any]:
    downloads = [{"model_name": e["model_name"], "status": e["status"], "started_at": e["started_at"],
                  "error": e.get("error"), "progress": e["progress"], "current": e["current"],
                  "total": e["total"], "filename": e["filename"]} for e in state.progress.active()]
    generations = [{"task_id": job.generation_id, "profile_id": job.profile_id or "",
                    "text_preview": job.text[:100], "started_at": job.started_at.isoformat(),
                    "running": job.running} for job in state.jobs.values()]
    return {"downloads": downloads, "generations": generations}


def clear(state: ServerState) -> dict[str, Any]:
    """Forget finished and failed downloads; what is running keeps running (and listed)."""
    cleared = state.progress.clear_finished()
    return {"message": f"cleared {cleared} finished task(s); running tasks are kept",
            "cleared": cleared}
