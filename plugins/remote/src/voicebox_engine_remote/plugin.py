"""Metadata of the remote engines: one engine per configured server, read from the data dir.

No network and no HTTP library here: the servers' models and voices were read once, when
``voicebox engines add-remote`` wrote the configuration (:mod:`.remotes`). With no server
configured the plugin registers no engine and stays loaded, so that the command is there.
"""

from __future__ import annotations

from typing import Any

import voicebox_core as vb

from voicebox_engine_remote import remotes

__all__ = [
    "VOICEBOX_API_VERSION",
    "VOICEBOX_ENGINES_FROM_CONFIG",
    "engine_info",
    "voicebox_create_backend",
    "voicebox_engines_commands",
    "voicebox_register_engines",
]

VOICEBOX_API_VERSION = vb.API_VERSION
#: Engines come from the user's configuration: none configured is no failure.
VOICEBOX_ENGINES_FROM_CONFIG = True


def engine_info(remote: remotes.Remote) -> vb.EngineInfo:
    """The engine of one configured server: its models at OpenAI's 24 kHz PCM, its voices as presets."""
    models = tuple(
        vb.ModelConfig(
            model_name=remotes.model_name_of(remote.name, model.id),
            display_name=f"{model.id} (on {remote.public_url})",
            engine=remote.name,
            hf_repo_id=None,
            # Nothing to download here: the weights live on the remote server.
            bundled=True,
            model_size=model.id,
            sample_rate=remotes.PCM_RATE,
            languages=model.languages,
            devices=("cpu",),
            description=f"Model {model.id!r} of the speech server at {remote.public_url}, over HTTP.",
        )
        for model in remote.models
    )
    return vb.EngineInfo(
        name=remote.name,
        display_name=f"{remote.name} (remote)",
        description=f"The OpenAI-compatible speech server at {remote.public_url}: every model it "
        "served when it was added (voicebox engines add-remote).",
        backend="voicebox_engine_remote.backend:RemoteBackend",
        check="voicebox_engine_remote.backend:check_install",
        models=models,
        voice_kinds=("preset",),
        preset_voices=tuple(
            vb.PresetVoice(voice_id=v.id, display_name=v.name or v.id, language=v.language, gender=v.gender,
                           models=tuple(remotes.model_name_of(remote.name, m) for m in v.models))
            for v in remote.voices
        ),
        default_voice=remote.voices[0].id if remote.voices else None,
        capabilities=vb.Capabilities(
            # The remote's PCM is streamed as it arrives.
            streaming=True,
            # The remote splits long texts itself; fewer, longer requests cost less overhead.
            max_chunk_chars=4000,
        ),
        homepage="https://platform.openai.com/docs/api-reference/audio/createSpeech",
    )


@vb.hookimpl
def voicebox_register_engines(register):  # type: ignore[no-untyped-def]
    for remote in remotes.load().values():
        register(engine_info(remote))


@vb.hookimpl
def voicebox_create_backend(engine: vb.EngineInfo) -> Any:
    if engine.backend != "voicebox_engine_remote.backend:RemoteBackend":
        return None
    configured = remotes.load().get(engine.name)
    if configured is None:  # removed since this process discovered it
        raise vb.NotFoundError(f"remote engine {engine.name!r} is no longer configured in "
                               f"{remotes.config_path()}; restart to drop it, or add it again")
    from voicebox_engine_remote.backend import RemoteBackend

    return RemoteBackend(configured)


@vb.hookimpl
def voicebox_engines_commands(subparsers):  # type: ignore[no-untyped-def]
    from voicebox_engine_remote import commands

    commands.add_actions(subparsers)
