"""A TTSBackend that speaks through another server's OpenAI ``POST /v1/audio/speech``.

Each request asks for ``response_format: "pcm"`` (24 kHz, 16-bit, mono) and yields the audio
as it arrives. The HTTP work is httpx's blocking client, one step at a time in
``asyncio.to_thread``: it serves whatever event loop calls it, and keeps its connections.

Failures, as the core's typed errors (the server's status in brackets):

- the connection fails before any answer: retried ``retries`` times, then
  :class:`RemoteUnavailableError` [503], naming the engine and the URL (never credentials);
- the connection breaks mid-answer, or the answer takes longer than ``timeout``: [503] too;
- the remote's 4xx: the matching error (400/422 → 422, 404 → 404, 409, 413, 429 → 503) with
  the remote's own message; its 401/403 and 5xx, and a 200 that is no audio:
  :class:`RemoteError` [502].
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import numpy as np
from voicebox_core.errors import (
    ConflictError,
    EngineBusyError,
    EngineInstallError,
    InvalidRequestError,
    NotFoundError,
    PayloadTooLargeError,
    VoiceboxError,
)

from voicebox_engine_remote.remotes import PCM_RATE, Remote

__all__ = ["RemoteBackend", "RemoteError", "RemoteUnavailableError", "check_install", "request_error"]

#: Errors of a connection that broke before the remote answered: worth another try.
_CONNECTION_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError, httpx.ReadError,
                      httpx.WriteError)
_PCM_TYPES = ("audio/pcm", "audio/l16", "audio/raw", "application/octet-stream")
_WAV_TYPES = ("audio/wav", "audio/x-wav", "audio/wave")


class RemoteUnavailableError(EngineBusyError):
    """The remote server cannot be reached, broke off or timed out: retry when it is back."""

    status_code = 503


class RemoteError(VoiceboxError):
    """The remote server answered, but not with audio (its own failure, refused credentials,
    an answer that is no audio): a bad gateway."""

    status_code = 502


def check_install() -> None:
    """The deep check: the HTTP client imports (a remote's health is not an installation's)."""
    assert httpx.__version__


def _message(response: httpx.Response, secret: str | None) -> str:
    """The remote's own words: FastAPI's ``detail``, OpenAI's ``error.message``, else its text."""
    text = response.text.strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        detail = data.get("detail")
        error = data.get("error")
        if isinstance(error, dict) and error.get("message"):
            text = str(error["message"])
        elif isinstance(detail, list):
            text = "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail)
        elif detail:
            text = str(detail)
    text = " ".join(text.split())[:300] or "(no message)"
    return text.replace(secret, "***") if secret else text


def request_error(status: int, message: str, where: str) -> VoiceboxError:
    """The typed error of a remote's error answer ``status``."""
    said = f"{where} refused the request ({status}): {message}"
    if status in (400, 422):
        return InvalidRequestError(said)
    if status == 404:
        return NotFoundError(f"{said}; if the remote dropped that model or voice, add the engine "
                             "again to read its list (voicebox engines add-remote)")
    if status == 409:
        return ConflictError(said)
    if status == 413:
        return PayloadTooLargeError(said)
    if status in (429, 503):
        return RemoteUnavailableError(f"{where} is busy ({status}): {message}; retry shortly")
    if status in (401, 403):
        return RemoteError(f"{where} refused our credentials ({status}): {message}; set the API key "
                           "variable named by --api-key-env in the server's environment")
    if status < 500:
        return InvalidRequestError(said)
    return RemoteError(f"{where} failed ({status}): {message}")


class RemoteBackend:
    """One configured remote server (:class:`~voicebox_engine_remote.remotes.Remote`)."""

    #: Runs elsewhere: holds no memory here (the Synthesizer's LRU leaves it be), and a
    #: request in progress may be cancelled when its client leaves.
    remote = True

    def __init__(self, config: Remote) -> None:
        self.config = config
        self.where = f"engine {config.name!r}: the speech server at {config.public_url}"
        self._model: str | None = None
        self._client: httpx.Client | None = None

    # -- the contract ----------------------------------------------------------------------

    async def load_model(self, model_size: str = "default") -> None:
        """Choose the remote model (nothing is loaded here; the remote keeps its own)."""
        known = [m.id for m in self.config.models]
        self._model = known[0] if model_size == "default" else model_size
        if self._model not in known:
            raise NotFoundError(f"engine {self.config.name!r} has no model {model_size!r}; its models: "
                                + ", ".join(known))

    async def create_voice_prompt(self, audio_path: str, reference_text: str,
                                  use_cache: bool = True) -> tuple[dict[str, Any], bool]:
        raise InvalidRequestError(f"engine {self.config.name!r} speaks the remote server's voices only; "
                                  "cloning a voice through a remote engine is not supported")

    async def combine_voice_prompts(self, audio_paths: list[str], ref_texts: list[str]) -> tuple[np.ndarray, str]:
        raise InvalidRequestError(f"engine {self.config.name!r} speaks the remote server's voices only; "
                                  "cloning a voice through a remote engine is not supported")

    async def generate(self, text: str, voice_prompt: dict[str, Any], language: str = "en",
                       seed: int | None = None, instruct: str | None = None) -> tuple[np.ndarray, int]:
        chunks = [c async for c in self.generate_stream(text, voice_prompt, language, seed, instruct)]
        audio = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
        return audio, PCM_RATE

    async def generate_stream(self, text: str, voice_prompt: dict[str, Any], language: str = "en",
                              seed: int | None = None, instruct: str | None = None) -> AsyncIterator[np.ndarray]:
        response = await asyncio.to_thread(self._open, self._body(text, voice_prompt, language, seed, instruct))
        try:
            media = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if media in _WAV_TYPES:  # a server that sends WAV whatever it is asked
                yield self._from_wav(await asyncio.to_thread(response.read))
                return
            pieces = response.iter_bytes()
            carry = b""
            while (piece := await asyncio.to_thread(next, pieces, None)) is not None:
                data = carry + piece
                whole = len(data) - len(data) % 2
                carry = data[whole:]
                if whole:
                    yield np.frombuffer(data[:whole], dtype="<i2").astype(np.float32) / 32768.0
        except httpx.TimeoutException as exc:
            raise self._timed_out(exc) from None
        except httpx.TransportError as exc:
            raise RemoteUnavailableError(f"{self.where} broke off while sending audio "
                                         f"({type(exc).__name__}: {exc}); retry when it is back") from None
        finally:
            response.close()

    def unload_model(self) -> None:
        self._model = None
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def is_loaded(self) -> bool:
        return self._model is not None

    def _get_model_path(self, model_size: str) -> str:
        return f"{self.config.public_url}/v1/audio/speech (model {model_size})"

    # -- HTTP ------------------------------------------------------------------------------

    def _body(self, text: str, voice_prompt: dict[str, Any], language: str, seed: int | None,
              instruct: str | None) -> dict[str, Any]:
        if voice_prompt.get("voice_type") != "preset":
            raise InvalidRequestError(f"engine {self.config.name!r} speaks the remote server's voices only "
                                      f"(got a {voice_prompt.get('voice_type')!r} voice)")
        body: dict[str, Any] = {"model": self._model or self.config.models[0].id, "input": text,
                                "voice": voice_prompt["preset_voice_id"], "response_format": "pcm"}
        if language and language != "auto":
            body["language"] = language
        if seed is not None:
            body["seed"] = seed
        if instruct:
            body["instructions"] = instruct
        return body

    def _secret(self) -> str | None:
        variable = self.config.api_key_env
        if not variable:
            return None
        key = os.environ.get(variable)
        if not key:
            raise EngineInstallError(f"engine {self.config.name!r} reads its API key from the environment "
                                     f"variable {variable}, which is not set here; set it and restart")
        return key

    def client(self) -> httpx.Client:
        if self._client is None:
            timeout = httpx.Timeout(self.config.timeout, connect=min(10.0, self.config.timeout))
            self._client = httpx.Client(timeout=timeout, follow_redirects=False)
        return self._client

    def _open(self, body: dict[str, Any]) -> httpx.Response:
        """POST the request; its response once the status and headers say audio follows."""
        secret = self._secret()
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        url = f"{self.config.url}/v1/audio/speech"
        for attempt in range(self.config.retries + 1):
            try:
                request = self.client().build_request("POST", url, json=body, headers=headers)
                response = self.client().send(request, stream=True)
                break
            except httpx.TimeoutException as exc:
                if not isinstance(exc, httpx.ConnectTimeout):
                    raise self._timed_out(exc) from None
                failure: Exception = exc
            except _CONNECTION_ERRORS as exc:
                failure = exc
            if attempt == self.config.retries:
                raise RemoteUnavailableError(
                    f"{self.where} is unreachable ({type(failure).__name__}: {failure}; "
                    f"{attempt + 1} tries); start it or check its address, then retry") from None
            time.sleep(0.2 * 2**attempt)
        if response.status_code >= 400:
            try:
                response.read()
                message = _message(response, secret)
            except httpx.HTTPError:
                message = "(its answer broke off)"
            finally:
                response.close()
            raise request_error(response.status_code, message, self.where)
        media = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if media and media not in _PCM_TYPES + _WAV_TYPES:
            try:
                response.read()
                sample = _message(response, secret)[:120]
            except httpx.HTTPError:
                sample = ""
            finally:
                response.close()
            if media.startswith("audio/"):
                raise RemoteError(f"{self.where} answered with {media}, not the pcm it was asked for (or wav); "
                                  "it does not speak OpenAI's response_format")
            raise RemoteError(f"{self.where} answered with {media}, not audio: {sample!r}; is its URL "
                              "an OpenAI-compatible speech server?")
        return response

    def _timed_out(self, exc: Exception) -> RemoteUnavailableError:
        return RemoteUnavailableError(f"{self.where} did not answer within {self.config.timeout:g} s "
                                      f"({type(exc).__name__}); retry, or add it with a longer --timeout")

    def _from_wav(self, data: bytes) -> np.ndarray:
        import soundfile as sf
        from voicebox_core.runtime.audio import as_mono_float32, resample

        try:
            audio, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
        except (RuntimeError, sf.LibsndfileError) as exc:
            raise RemoteError(f"{self.where} sent WAV audio that does not decode ({exc})") from None
        return resample(as_mono_float32(audio.mean(axis=1)), int(rate), PCM_RATE)
