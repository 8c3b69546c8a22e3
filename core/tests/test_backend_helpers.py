"""Helpers lifted from the backends: the thread-hop stream loop, JSON options from the
environment, joined reference clips, and model bookkeeping."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from voicebox_core import GenerationError, InvalidRequestError, ModelConfig, UnknownModelError
from voicebox_core.runtime import (
    ModelSlot,
    env_options,
    iterate_in_thread,
    join_clips,
    join_transcripts,
    model_path,
    pick_model,
    save_audio,
)
from voicebox_core.threads import EngineThread

# -- iterate_in_thread ---------------------------------------------------------------------


class Upstream:
    """A blocking generator that records where it ran and whether it was closed."""

    def __init__(self, items: int = 5, delay: float = 0.0, fail_at: int | None = None,
                 error: Exception | None = None) -> None:
        self.items, self.delay, self.fail_at = items, delay, fail_at
        self.error = error or RuntimeError("upstream broke")
        self.threads: list[str] = []
        self.made = 0
        self.closed = False
        self.lock_held: list[bool] = []
        self.lock: threading.Lock | None = None

    def __call__(self) -> Iterator[int]:
        self.threads.append(threading.current_thread().name)
        return self._run()

    def _run(self) -> Iterator[int]:
        try:
            for index in range(self.items):
                self.threads.append(threading.current_thread().name)
                if self.lock is not None:
                    self.lock_held.append(self.lock.locked())
                if index == self.fail_at:
                    raise self.error
                time.sleep(self.delay)
                self.made += 1
                yield index
        finally:
            self.closed = True


def collect(upstream: Upstream, **options: object) -> list[int]:
    async def run() -> list[int]:
        return [item async for item in iterate_in_thread(upstream, **options)]  # type: ignore[arg-type]

    return asyncio.run(run())


def test_every_item_in_order_each_step_off_the_event_loop() -> None:
    upstream = Upstream()
    assert collect(upstream) == [0, 1, 2, 3, 4]
    assert upstream.closed
    assert threading.main_thread().name not in upstream.threads


def test_the_lock_is_held_around_every_step() -> None:
    upstream = Upstream(items=3)
    upstream.lock = threading.Lock()
    assert collect(upstream, lock=upstream.lock) == [0, 1, 2]
    assert upstream.lock_held == [True, True, True] and not upstream.lock.locked()


def test_closing_early_closes_the_upstream_generator_and_sets_stop() -> None:
    upstream, stop = Upstream(items=100), threading.Event()

    async def run() -> None:
        stream = iterate_in_thread(upstream, stop=stop)
        assert await stream.__anext__() == 0
        await stream.aclose()

    asyncio.run(run())
    assert upstream.closed and upstream.made == 1 and stop.is_set()


def test_cancelling_closes_the_upstream_generator_after_its_step() -> None:
    upstream = Upstream(items=100, delay=0.05)

    async def consume() -> None:
        async for _ in iterate_in_thread(upstream):
            pass

    async def run() -> None:
        task = asyncio.create_task(consume())
        await asyncio.sleep(0.12)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    assert upstream.closed and upstream.made < 10


def test_errors_are_translated_and_voicebox_errors_pass() -> None:
    with pytest.raises(GenerationError, match="engine failed: upstream broke") as caught:
        collect(Upstream(fail_at=2), on_error=lambda exc: GenerationError(f"engine failed: {exc}"))
    assert isinstance(caught.value.__cause__, RuntimeError)
    with pytest.raises(RuntimeError, match="upstream broke"):
        collect(Upstream(fail_at=0), on_error=lambda exc: None)
    upstream = Upstream(fail_at=1, error=InvalidRequestError("bad voice"))
    with pytest.raises(InvalidRequestError, match="bad voice"):
        collect(upstream, on_error=lambda exc: GenerationError("never this"))
    assert upstream.closed


def test_on_an_engine_thread_every_step_runs_on_its_one_worker() -> None:
    engine = EngineThread("helpers")
    upstream = Upstream(items=4)

    async def stream() -> list[int]:
        return [item async for item in iterate_in_thread(upstream)]

    items = asyncio.run(engine.run(stream()))  # type: ignore[arg-type]
    assert items == [0, 1, 2, 3] and upstream.closed
    assert {name.rsplit("_", 1)[0] for name in upstream.threads} == {"voicebox-helpers-work"}


# -- env_options -----------------------------------------------------------------------------


def test_env_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VOICEBOX_X_OPTIONS", raising=False)
    assert env_options("VOICEBOX_X_OPTIONS") == {}
    monkeypatch.setenv("VOICEBOX_X_OPTIONS", ' {"steps": 2} ')
    assert env_options("VOICEBOX_X_OPTIONS", {"steps", "cfg"}) == {"steps": 2}
    for raw, message in (("{steps", "is not valid JSON"), ("[1]", r"must be a JSON object of \['cfg', 'steps'\]$"),
                         ('{"nope": 1}', r"must be a JSON object of \['cfg', 'steps'\]; it has unknown \['nope'\]")):
        monkeypatch.setenv("VOICEBOX_X_OPTIONS", raw)
        with pytest.raises(InvalidRequestError, match=f"^VOICEBOX_X_OPTIONS {message}"):
            env_options("VOICEBOX_X_OPTIONS", {"steps", "cfg"})
    monkeypatch.setenv("VOICEBOX_X_OPTIONS", '{"nope": 1}')
    with pytest.raises(InvalidRequestError, match='must be a JSON object with only "steps"; it has unknown'):
        env_options("VOICEBOX_X_OPTIONS", {"steps"}, described='with only "steps"')
    monkeypatch.setenv("VOICEBOX_X_OPTIONS", "2")
    with pytest.raises(InvalidRequestError, match=r"^VOICEBOX_X_OPTIONS must be a JSON object$"):
        env_options("VOICEBOX_X_OPTIONS")
    monkeypatch.setenv("VOICEBOX_X_OPTIONS", '{"anything": 1}')
    assert env_options("VOICEBOX_X_OPTIONS") == {"anything": 1}


# -- join_clips ------------------------------------------------------------------------------


def test_join_clips_puts_a_gap_between_clips(tmp_path: Path) -> None:
    one = save_audio(tmp_path / "one.wav", np.full(1000, 0.1, dtype=np.float32), 8000)
    two = save_audio(tmp_path / "two.wav", np.full(500, 0.2, dtype=np.float32), 16000)
    audio = join_clips([one, two], 8000)
    assert audio.dtype == np.float32 and len(audio) == 1000 + 1600 + 250
    assert not audio[1000:2600].any()
    assert len(join_clips([one, two], 8000, gap_seconds=0)) == 1250
    assert len(join_clips([one], 8000)) == 1000
    assert join_clips([], 8000).size == 0
    levelled = join_clips([one, two], 8000, normalize=True)  # each clip, then the whole
    assert len(levelled) == len(audio) and np.isclose(levelled[0], levelled[-1], rtol=1e-3)


def test_join_transcripts() -> None:
    assert join_transcripts([" Hello there. ", "", None, "Again."]) == "Hello there. Again."
    assert join_transcripts([]) == ""


# -- models ----------------------------------------------------------------------------------


def _model(name: str, size: str) -> ModelConfig:
    return ModelConfig(model_name=name, display_name=name, engine="e", hf_repo_id=f"org/{name}",
                       model_size=size, sample_rate=24000, languages=("en",), files=("config.json",))


SMALL, LARGE = _model("e-small", "small"), _model("e-large", "large")


def test_pick_model() -> None:
    assert pick_model((SMALL, LARGE), "default", "e") is SMALL
    assert pick_model((SMALL, LARGE), "", "e", default="large") is LARGE
    assert pick_model((SMALL, LARGE), "large", "e") is LARGE
    assert pick_model((SMALL, LARGE), "e-large", "e") is LARGE
    with pytest.raises(UnknownModelError, match=r"'e huge'.*e-large, e-small"):
        pick_model((SMALL, LARGE), "huge", "e")


def test_model_path_names_the_repository_or_the_override(monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    monkeypatch.delenv("VOICEBOX_MODELS_DIR", raising=False)
    assert model_path(SMALL) == "org/e-small"
    monkeypatch.setenv("VOICEBOX_MODELS_DIR", str(tmp_path))
    (tmp_path / "e-small").mkdir()
    assert model_path(SMALL) == str(tmp_path / "e-small")


def test_a_slot_builds_once_for_concurrent_callers_and_holds_one_model() -> None:
    slot: ModelSlot[str] = ModelSlot()
    builds: list[str] = []

    def build(name: str) -> str:
        time.sleep(0.05)
        builds.append(name)
        return name

    threads = [threading.Thread(target=slot.load, args=(SMALL, lambda: build("small"))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert builds == ["small"] and slot.is_loaded() and slot.holds(SMALL) and slot.model == "small"
    assert asyncio.run(slot.ensure(SMALL, lambda: build("again"))) == "small"
    assert asyncio.run(slot.ensure(LARGE, lambda: build("large"))) == "large"
    assert slot.config is LARGE and not slot.holds(SMALL)

    def broken() -> str:
        assert slot.model is None  # the old model is dropped before the new one is built
        raise RuntimeError("no weights")

    def offline() -> str:
        raise RuntimeError("no network")

    with pytest.raises(RuntimeError, match="no network"):  # preparing fails: the old model stays
        slot.load(SMALL, lambda path: path, prepare=offline)
    assert slot.holds(LARGE)
    assert slot.load(SMALL, lambda path: f"small from {path}", prepare=lambda: "/cache") == "small from /cache"
    with pytest.raises(RuntimeError):
        slot.load(LARGE, broken)
    assert not slot.is_loaded() and slot.config is None
    slot.load(SMALL, lambda: "small")
    slot.unload()
    assert not slot.is_loaded() and slot.model is None and slot.config is None
