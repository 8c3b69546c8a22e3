"""The pieces of isolation that need no environment: the wire format, metadata round trips,
requirement names. The environments themselves are tested in tests/isolation."""

from __future__ import annotations

import threading
from multiprocessing.connection import Pipe
from pathlib import Path

import numpy as np
import pytest
import voicebox_core as vb
from voicebox_core.isolation.envs import IsolatedEnv, environments, requirement_name
from voicebox_core.isolation.metadata import engine_from_dict, engine_to_dict
from voicebox_core.isolation.protocol import (
    decode_arrays,
    encode_arrays,
    error_from_wire,
    error_to_wire,
    receive,
    send,
)
from voicebox_core.registry import Registry


def test_messages_carry_arrays_as_raw_frames() -> None:
    here, there = Pipe()
    audio = np.linspace(-1, 1, 4800, dtype=np.float32).reshape(2, 2400)
    frames: list[bytes] = []
    header = {"id": 1, "result": encode_arrays({"audio": audio, "rate": np.int64(24000), "pair": (1, "a")}, frames)}
    send(here, threading.Lock(), header, frames)
    got, raw = receive(there)
    value = decode_arrays(got["result"], raw)
    np.testing.assert_array_equal(value["audio"], audio)
    assert value["audio"].dtype == np.float32 and value["audio"].flags.writeable
    assert value["rate"] == 24000 and value["pair"] == [1, "a"]


class EngineOwnError(vb.UnsupportedLanguageError):
    pass


def test_errors_arrive_as_the_core_type_they_derive_from() -> None:
    wire = error_to_wire(EngineOwnError("tlh", "engine x", ["en"]))
    assert wire["bases"][0] == "UnsupportedLanguageError"
    back = error_from_wire(wire, "x")
    assert type(back) is vb.UnsupportedLanguageError and back.status_code == 422
    assert str(back) == str(EngineOwnError("tlh", "engine x", ["en"])) and back.language == "tlh"
    assert type(error_from_wire(error_to_wire(KeyError("k")), "x")) is KeyError
    other = error_from_wire({"type": "OutOfMemoryError", "module": "torch.cuda", "message": "CUDA out of memory"}, "x")
    assert isinstance(other, vb.GenerationError) and "torch.cuda.OutOfMemoryError: CUDA out of memory" in str(other)


def test_engine_metadata_round_trips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICEBOX_PLUGINS", "reference")
    info = Registry.discover(isolated=False).engine("reference")
    assert engine_from_dict(engine_to_dict(info)) == info
    data = engine_to_dict(info)
    data["a_field_of_a_newer_core"] = 1
    assert engine_from_dict(data) == info


def test_requirement_names(tmp_path: Path) -> None:
    assert requirement_name("voicebox-engine-kokoro>=0.1") == "voicebox-engine-kokoro"
    assert requirement_name("Voicebox_Engine.Qwen") == "voicebox-engine-qwen"
    assert requirement_name("dist/voicebox_engine_piper-0.1.0-py3-none-any.whl") == "voicebox-engine-piper"
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "My_Engine"\n')
    assert requirement_name(str(tmp_path)) == "my-engine"
    with pytest.raises(vb.InvalidRequestError, match="neither a requirement"):
        requirement_name("not a ==> requirement")
    with pytest.raises(vb.InvalidRequestError, match="without a pyproject.toml"):
        requirement_name(str(tmp_path / ".."))


def test_only_recorded_environments_are_listed(tmp_path: Path) -> None:
    (tmp_path / "voicebox-engine-half").mkdir()  # an install that did not finish: no record
    assert environments(tmp_path) == []
    assert environments(tmp_path / "missing") == []
    env = IsolatedEnv("voicebox-engine-x", tmp_path / "voicebox-engine-x", "voicebox-engine-x")
    env.root.mkdir()
    (env.root / "voicebox-env.json").write_text(__import__("json").dumps(env.record()))
    assert [e.distribution for e in environments(tmp_path)] == ["voicebox-engine-x"]


def test_a_broken_environment_sets_aside_only_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = IsolatedEnv("voicebox-engine-x", tmp_path / "engines" / "voicebox-engine-x", "voicebox-engine-x")
    env.root.mkdir(parents=True)
    (env.root / "voicebox-env.json").write_text(__import__("json").dumps(env.record()))
    registry = Registry.discover(environments=tmp_path / "engines")
    assert "reference" in {e.name for e in registry.engines}
    (failure,) = [f for f in registry.failures if f.distribution == "voicebox-engine-x"]
    assert failure.stage == "isolated" and "has no Python" in failure.error and "--isolated" in failure.hint
