"""Generation as Voicebox runs it: validate at once, answer at once, synthesise on the queue.

``POST /generate`` checks everything (profile, engine, model, voice, language, text) before a
row exists, takes a place in the engine's queue (503 when it is full), stores the row as
``loading_model`` or ``generating`` and returns it. A background job then loads the model
(reporting any download under the model's name), synthesises, writes
``generations/<id>.wav`` and marks the row ``completed``, or ``failed`` with the error. A
server that stops mid-generation marks those rows ``failed`` when it starts again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from voicebox_core.config import EngineInfo, ModelConfig
from voicebox_core.errors import (
    ConflictError,
    GenerationCancelledError,
    InvalidRequestError,
    NotFoundError,
    VoiceboxError,
)
from voicebox_core.runtime.audio import save_audio
from voicebox_core.runtime.download import check_obtainable, is_downloaded
from voicebox_core.server.db import Generation, Profile
from voicebox_core.server.schemas import GenerateBody
from voicebox_core.server.services import models, profiles, settings
from voicebox_core.server.state import Job, ServerState, Ticket, storage_failure
from voicebox_core.synthesis import SynthesisRequest, Voice
from voicebox_core.timing import words_to_json

__all__ = ["ACTIVE", "cancel", "recover", "regenerate", "request_of", "retry", "row", "start",
           "status_events"]

log = logging.getLogger("voicebox.server")
ACTIVE = ("loading_model", "generating")
INTERRUPTED = "the server stopped before this generation finished; retry it"


@dataclass(frozen=True)
class Resolved:
    """What a /generate body means: the request, the model, the profile, a label."""

    request: SynthesisRequest
    model: ModelConfig
    profile_id: str | None
    label: str


# -- from a body to a synthesis request ----------------------------------------------------


def _refuse_outside_machinery(body: GenerateBody) -> None:
    if body.personality:
        raise InvalidRequestError(
            "personality rewriting needs Voicebox's LLM, which is not part of the engine "
            "server; send personality: false (or leave it out)")
    if body.effects_chain:
        raise InvalidRequestError(
            "effects chains need Voicebox's audio effects, which are not part of the engine "
            "server; leave effects_chain out (or send an empty list)")


def _model_for_size(engine: EngineInfo, size: str) -> ModelConfig:
    for model in engine.models:
        if size in (model.model_size, model.model_name):
            return model
    if len(engine.models) == 1:
        return engine.models[0]  # a single-model engine has no sizes to choose from
    sizes = ", ".join(m.model_size for m in engine.models)
    raise InvalidRequestError(f"model_size {size!r} is not a size of engine {engine.name!r}; "
                              f"its sizes: {sizes}")


def _engine_of(state: ServerState, body: GenerateBody, profile: Profile | None) -> str | None:
    if body.engine:
        return state.registry.engine(body.engine).name
    if body.model:
        return state.registry.model(body.model).engine
    if profile is None:
        return None
    if profile.default_engine:
        return profile.default_engine
    if profile.preset_engine:
        return profile.preset_engine
    if profile.default_model:
        return state.registry.model(profile.default_model).engine
    # Voicebox falls back to its own default engine; here: the first installed engine (by
    # name) that speaks this kind of voice.
    return next((e.name for e in state.registry.engines if profile.voice_type in e.voice_kinds), None)


def request_of(state: ServerState, body: GenerateBody) -> Resolved:
    """The synthesis a /generate body asks for; every name is checked against the registry."""
    _refuse_outside_machinery(body)
    profile = None
    if body.profile_id:
        profile = profiles.find(state, body.profile_id)
        if profile is None:
            raise NotFoundError(f"no profile with id {body.profile_id!r}; list them with GET /profiles")
    engine_name = _engine_of(state, body, profile)
    if engine_name is None:
        kinds = f" for {profile.voice_type} voices" if profile else ""
        raise InvalidRequestError(
            f"give 'engine'{' or model' if not profile else ''} (or 'profile_id' with a default "
            f"engine); engines{kinds}: "
            + ", ".join(e.name for e in state.registry.engines
                        if profile is None or profile.voice_type in e.voice_kinds))
    engine = state.registry.engine(engine_name)
    if profile is not None and profile.voice_type == "preset" and profile.preset_engine != engine.name:
        raise InvalidRequestError(f"profile {profile.name!r} is a preset voice of engine "
                                  f"{profile.preset_engine!r}; it cannot speak with {engine.name!r}")
    if body.model:
        model_name = body.model
        if state.registry.model(model_name).engine != engine.name:
            raise InvalidRequestError(f"model {model_name!r} is not a model of engine {engine.name!r}")
    elif body.model_size:
        model_name = _model_for_size(engine, body.model_size).model_name
    elif profile is not None and profile.default_model and \
            state.registry.model(profile.default_model).engine == engine.name:
        model_name = profile.default_model
    else:
        model_name = engine.name  # its default model, or the one its preset voice needs
    if profile is not None:
        if body.voice:
            raise InvalidRequestError("give 'profile_id' or 'voice', not both")
        voice: Voice | None = profiles.voice_of(state, profile)
        label = profile.name
    else:
        voice = Voice.preset(body.voice) if body.voice else None
        label = f"{engine.display_name}: {body.voice or engine.default_voice or 'default'}"
    defaults = settings.generation(state)
    request = SynthesisRequest(
        text=body.text, model=model_name, voice=voice,
        language=body.language or (profile.language if profile else None), seed=body.seed,
        instruct=body.instruct or None,
        max_chunk_chars=body.max_chunk_chars or defaults["max_chunk_chars"],
        crossfade_ms=defaults["crossfade_ms"] if body.crossfade_ms is None else body.crossfade_ms,
        normalize=defaults["normalize_audio"] if body.normalize is None else body.normalize,
    )
    plan = state.synthesizer.plan(request)  # every check before any work
    check_obtainable(plan.model)
    return Resolved(request, plan.model, profile.id if profile else None, label)


# -- rows ----------------------------------------------------------------------------------


def _describe(voice: Voice | None) -> str:
    if voice is None:
        return "default"
    if voice.kind == "preset":
        return f"preset:{voice.preset_id}"
    if voice.kind == "designed":
        return "designed"
    return f"cloned:{len(voice.samples)} sample(s)"


def row(generation: Generation, profile_name: str | None = None) -> dict[str, Any]:
    """Voicebox's ``HistoryResponse`` (a ``GenerationResponse`` with ``profile_name``)."""
    done = generation.status == "completed"
    return {
        "id": generation.id, "profile_id": generation.profile_id,
        "profile_name": profile_name or generation.voice_label, "text": generation.text,
        "language": generation.language, "audio_path": generation.audio_path or None,
        "duration": round(generation.duration, 3) if done else None, "seed": generation.seed,
        "instruct": generation.instruct, "engine": generation.engine,
        "model_size": generation.model_size, "status": generation.status, "error": generation.error,
        "is_favorited": bool(generation.is_favorited), "source": generation.source,
        "created_at": generation.created_at.isoformat(),
        "model_name": generation.model_name, "voice": generation.voice,
        "sample_rate": generation.sample_rate,
        "audio_url": f"/audio/{generation.id}" if done else None,
        # Captions from the engine's word timestamps; None when it has none.
        "captions_url": f"/history/{generation.id}/captions" if done and generation.words else None,
    }


def _get(session: Any, generation_id: str) -> Generation:
    generation = session.get(Generation, generation_id)
    if generation is None:
        raise NotFoundError(f"no generation {generation_id!r}; see GET /history")
    return generation


def _set(state: ServerState, generation_id: str, **values: Any) -> bool:
    with state.sessions() as session:
        done = session.execute(update(Generation).where(Generation.id == generation_id).values(**values))
        session.commit()
    state.notify(generation_id)
    return bool(done.rowcount)


def recover(state: ServerState) -> int:
    """Mark generations a previous server left running as failed. Returns how many."""
    with state.sessions() as session:
        done = session.execute(update(Generation).where(Generation.status.in_(ACTIVE))
                               .values(status="failed", error=INTERRUPTED))
        session.commit()
        return int(done.rowcount or 0)


# -- jobs ----------------------------------------------------------------------------------


def _options(resolved: Resolved) -> str:
    request = resolved.request
    return json.dumps({"model": resolved.model.model_name, "voice": _describe(request.voice),
                       "max_chunk_chars": request.max_chunk_chars,
                       "crossfade_ms": request.crossfade_ms, "normalize": request.normalize})


def _admit(state: ServerState, resolved: Resolved) -> Ticket:
    return state.queue(resolved.model.engine).admit()


def _first_status(state: ServerState, model: ModelConfig) -> str:
    return "generating" if model.model_name in state.synthesizer.loaded_models() else "loading_model"


def start(state: ServerState, body: GenerateBody) -> dict[str, Any]:
    resolved = request_of(state, body)
    ticket = _admit(state, resolved)
    try:
        with state.sessions() as session:
            generation = Generation(
                id=uuid.uuid4().hex, profile_id=resolved.profile_id, text=body.text,
                language=state.synthesizer.plan(resolved.request).language,
                engine=resolved.model.engine, model_name=resolved.model.model_name,
                model_size=resolved.model.model_size, voice=_describe(resolved.request.voice),
                voice_label=resolved.label, seed=body.seed, instruct=resolved.request.instruct,
                audio_path="", status=_first_status(state, resolved.model),
                sample_rate=resolved.model.sample_rate, options=_options(resolved))
            session.add(generation)
            session.commit()
            answer = row(generation)
    except BaseException:
        ticket.release()
        raise
    _launch(state, generation.id, resolved, ticket, replace=False)
    return answer


def _launch(state: ServerState, generation_id: str, resolved: Resolved, ticket: Ticket,
            replace: bool) -> None:
    if resolved.model.model_name not in state.synthesizer.loaded_models():
        if not is_downloaded(resolved.model) and not state.progress.downloading(resolved.model.model_name):
            state.progress.publish(resolved.model.model_name, "downloading", filename="queued")
    job = Job(generation_id, resolved.profile_id, resolved.request.text)
    state.jobs[generation_id] = job
    job.task = asyncio.get_running_loop().create_task(_run(state, job, resolved, ticket, replace))


async def _run(state: ServerState, job: Job, resolved: Resolved, ticket: Ticket, replace: bool) -> None:
    target = state.audio_dir / f"{job.generation_id}-{uuid.uuid4().hex[:8]}.wav"
    try:
        async with ticket:
            job.running = True
            if resolved.model.model_name not in state.synthesizer.loaded_models():
                _set(state, job.generation_id, status="loading_model")
            await models.ensure_loaded(state, resolved.model)
            _set(state, job.generation_id, status="generating")
            result = await state.synthesizer.synthesize(resolved.request, stop=job.stopped, timestamps=True)
        if job.stopped():  # asked during the last chunk: its audio is not wanted either
            raise GenerationCancelledError("generation cancelled")
        await asyncio.to_thread(save_audio, target, result.audio, result.sample_rate)
        with state.sessions() as session:
            generation = session.get(Generation, job.generation_id)
            if generation is None:  # deleted while it ran
                target.unlink(missing_ok=True)
                return
            old = generation.audio_path
            generation.audio_path, generation.status, generation.error = state.stored(target), "completed", None
            generation.duration, generation.sample_rate = result.duration, result.sample_rate
            generation.language = result.language
            generation.words = None if result.words is None else json.dumps(words_to_json(result.words))
            session.commit()
        state.notify(job.generation_id)
        if replace and old:
            state.resolve(old).unlink(missing_ok=True)
    except asyncio.CancelledError:
        target.unlink(missing_ok=True)
        _set(state, job.generation_id, status="failed", error="generation cancelled")
    except GenerationCancelledError:
        target.unlink(missing_ok=True)
        _set(state, job.generation_id, status="failed", error="generation cancelled")
    except Exception as exc:  # noqa: BLE001 - the row keeps the error; the server goes on
        target.unlink(missing_ok=True)
        if isinstance(exc, VoiceboxError):
            message = str(exc)
        elif (failure := storage_failure(exc, state.settings.data_dir)) is not None:
            message = (f"the server cannot write to {failure[0]!r} ({failure[1]}); nothing was "
                       "saved: free space, then retry")
        else:
            log.exception("generation %s failed", job.generation_id)
            message = f"{type(exc).__name__}: {exc}"
        if replace:  # a failed regeneration keeps the take it had
            _set(state, job.generation_id, status="completed", error=f"regeneration failed: {message}")
        else:
            _set(state, job.generation_id, status="failed", error=message)
    finally:
        ticket.release()
        state.jobs.pop(job.generation_id, None)
        state.notify(job.generation_id)


def _rerun(state: ServerState, generation: Generation, seed: int | None) -> Resolved:
    """The request a stored generation was made with (its profile as it is now)."""
    options = json.loads(generation.options or "{}")
    voice = str(options.get("voice") or generation.voice or "")
    body = GenerateBody(
        text=generation.text, profile_id=generation.profile_id,
        model=options.get("model") or generation.model_name,
        voice=voice.removeprefix("preset:") if voice.startswith("preset:") and not generation.profile_id else None,
        language=generation.language, seed=seed, instruct=generation.instruct,
        max_chunk_chars=options.get("max_chunk_chars"), crossfade_ms=options.get("crossfade_ms"),
        normalize=options.get("normalize"))
    return request_of(state, body)


def retry(state: ServerState, generation_id: str) -> dict[str, Any]:
    """Run a failed generation again with the same parameters (and seed)."""
    with state.sessions() as session:
        generation = _get(session, generation_id)
        if generation.status != "failed":
            raise ConflictError(f"generation {generation_id!r} is {generation.status}; only failed "
                                "generations can be retried")
        resolved = _rerun(state, generation, generation.seed)
        ticket = _admit(state, resolved)
        generation.status, generation.error = _first_status(state, resolved.model), None
        generation.audio_path, generation.duration = "", 0.0
        session.commit()
        answer = row(generation)
    _launch(state, generation_id, resolved, ticket, replace=False)
    return answer


def regenerate(state: ServerState, generation_id: str) -> dict[str, Any]:
    """Speak a completed generation again with a new seed; the new take replaces the old."""
    with state.sessions() as session:
        generation = _get(session, generation_id)
        if generation.status != "completed":
            raise ConflictError(f"generation {generation_id!r} is {generation.status}; only "
                                "completed generations can be regenerated")
        resolved = _rerun(state, generation, None)
        ticket = _admit(state, resolved)
        generation.status, generation.error, generation.seed = "generating", None, None
        session.commit()
        answer = row(generation)
    _launch(state, generation_id, resolved, ticket, replace=True)
    return answer


def cancel(state: ServerState, generation_id: str) -> dict[str, str]:
    with state.sessions() as session:
        generation = _get(session, generation_id)
        active = generation.status in ACTIVE
    job = state.jobs.get(generation_id)
    if job is None:
        if not active:
            raise ConflictError(f"generation {generation_id!r} is {generation.status}; only queued "
                                "or running generations can be cancelled")
        _set(state, generation_id, status="failed", error="generation cancelled")
        return {"message": "Orphaned generation cleared"}
    if not job.running and job.task is not None:
        job.task.cancel()
        return {"message": "Queued generation cancelled"}
    job.stop_requested = True
    return {"message": "Generation cancellation requested"}


def stop_job(state: ServerState, generation_id: str) -> None:
    job = state.jobs.get(generation_id)
    if job is not None:
        job.stop_requested = True
        if not job.running and job.task is not None:
            job.task.cancel()


async def status_events(state: ServerState, generation_id: str) -> AsyncIterator[str]:
    """Voicebox's status SSE: ``{id, status, duration, error, source}`` on every change, until
    ``completed`` or ``failed`` (or ``not_found``). Woken by the job itself, not by polling."""
    changed = asyncio.Event()
    state.watchers.setdefault(generation_id, set()).add(changed)
    last: tuple[Any, ...] | None = None
    try:
        while True:
            changed.clear()
            with state.sessions() as session:
                generation = session.get(Generation, generation_id)
                if generation is None:
                    yield f"data: {json.dumps({'id': generation_id, 'status': 'not_found'})}\n\n"
                    return
                done = generation.status == "completed"
                payload = {"id": generation.id, "status": generation.status,
                           "duration": round(generation.duration, 3) if done else None,
                           "error": generation.error, "source": generation.source}
            finished = generation.status in ("completed", "failed") and generation_id not in state.jobs
            current = tuple(payload.values())
            if current != last or finished:
                yield f"data: {json.dumps(payload)}\n\n"
                last = current
            if finished:
                return
            try:
                await asyncio.wait_for(changed.wait(), timeout=15)
            except TimeoutError:
                yield ": keep-alive\n\n"
    finally:
        listeners = state.watchers.get(generation_id, set())
        listeners.discard(changed)
        if not listeners:
            state.watchers.pop(generation_id, None)


def profile_names(session: Any, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    return dict(session.execute(select(Profile.id, Profile.name).where(Profile.id.in_(ids))).all())
