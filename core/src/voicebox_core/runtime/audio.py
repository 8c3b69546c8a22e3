"""Audio helpers: soundfile and numpy only (never ``torchaudio.load``)."""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

import numpy as np
import soundfile as sf

from voicebox_core.errors import GenerationError, ReferenceAudioError
from voicebox_core.runtime.files import atomic_file

__all__ = [
    "as_mono_float32",
    "change_speed",
    "crossfade_concat",
    "encode_audio",
    "load_audio",
    "load_reference_audio",
    "normalize_audio",
    "resample",
    "save_audio",
    "trim_tts_output",
]


def as_mono_float32(audio: object) -> np.ndarray:
    """Any array-like (numpy, torch tensor, list) as 1-D float32, finite, clipped to [-1, 1]."""
    if hasattr(audio, "detach"):  # a torch tensor, without importing torch
        audio = audio.detach().cpu().float().numpy()  # type: ignore[attr-defined]
    array = np.asarray(audio, dtype=np.float32)
    if array.ndim == 2:
        # (channels, samples) or (samples, channels): average the short axis.
        array = array.mean(axis=0 if array.shape[0] <= array.shape[1] else 1)
    array = np.squeeze(array)
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim != 1:
        raise GenerationError(f"engine returned audio of shape {np.shape(audio)}, expected mono")
    array = np.nan_to_num(array, nan=0.0, posinf=1.0, neginf=-1.0)
    return np.clip(array, -1.0, 1.0).astype(np.float32, copy=False)


def load_audio(path: str | os.PathLike[str], sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Read any libsndfile format as mono float32; resample when ``sample_rate`` is given."""
    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    audio = data.mean(axis=1).astype(np.float32)
    if sample_rate is not None and rate != sample_rate:
        audio, rate = resample(audio, rate, sample_rate), sample_rate
    return audio, rate


def load_reference_audio(
    path: str | os.PathLike[str],
    *,
    min_seconds: float = 2.0,
    max_seconds: float = 30.0,
    sample_rate: int | None = None,
) -> tuple[np.ndarray, int]:
    """Load a voice-cloning reference clip, rejecting missing, undecodable, short, long or silent ones."""
    file = Path(path)
    if not file.is_file():
        raise ReferenceAudioError(f"reference audio {str(file)!r} does not exist")
    try:
        audio, rate = load_audio(file, sample_rate)
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        raise ReferenceAudioError(
            f"reference audio {file.name!r} could not be decoded ({exc}); use WAV, FLAC or OGG"
        ) from None
    seconds = len(audio) / rate if rate else 0.0
    if seconds < min_seconds or seconds > max_seconds:
        raise ReferenceAudioError(
            f"reference audio {file.name!r} is {seconds:.1f} s long; "
            f"use a clip between {min_seconds:g} and {max_seconds:g} s"
        )
    if float(np.sqrt(np.mean(np.square(audio)))) < 0.001:
        raise ReferenceAudioError(f"reference audio {file.name!r} is silent; record a voice clip")
    return audio, rate


def resample(audio: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """Band-limited resampling by FFT (what scipy.signal.resample does), float32 out."""
    if source_rate == target_rate or len(audio) == 0:
        return audio.astype(np.float32, copy=False)
    target_len = max(1, round(len(audio) * target_rate / source_rate))
    spectrum = np.fft.rfft(audio.astype(np.float64))
    bins = target_len // 2 + 1
    if bins <= len(spectrum):
        spectrum = spectrum[:bins]
    else:
        spectrum = np.concatenate([spectrum, np.zeros(bins - len(spectrum), dtype=spectrum.dtype)])
    out = np.fft.irfft(spectrum, n=target_len) * (target_len / len(audio))
    return out.astype(np.float32)


def normalize_audio(audio: np.ndarray, target_db: float = -20.0, peak: float = 0.85) -> np.ndarray:
    """Scale to ``target_db`` RMS, then limit the peak; silence stays silence."""
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if len(audio) else 0.0
    if rms < 1e-8:
        return audio.astype(np.float32, copy=True)
    scaled = audio * (10 ** (target_db / 20) / rms)
    top = float(np.max(np.abs(scaled)))
    if top > peak:
        scaled = scaled * (peak / top)
    return scaled.astype(np.float32)


def trim_tts_output(
    audio: np.ndarray,
    sample_rate: int = 24000,
    frame_ms: int = 20,
    silence_threshold_db: float = -40.0,
    min_silence_ms: int = 200,
    max_internal_silence_ms: int = 1000,
    fade_ms: int = 30,
) -> np.ndarray:
    """Voicebox's trim: cut at the first long internal silence, drop trailing silence, fade out."""
    frame = max(1, sample_rate * frame_ms // 1000)
    n_frames = len(audio) // frame
    if n_frames == 0:
        return audio
    frames = audio[: n_frames * frame].reshape(n_frames, frame)
    rms = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1))
    loud = 20 * np.log10(np.maximum(rms, 1e-10)) > silence_threshold_db
    if not loud.any():
        return audio
    first, last = int(np.argmax(loud)), int(n_frames - 1 - np.argmax(loud[::-1]))
    max_gap = max_internal_silence_ms // frame_ms
    run = 0
    for index in range(first, last + 1):
        run = 0 if loud[index] else run + 1
        if run >= max_gap:
            last = index - run
            break
    keep = min(len(audio), (last + 1) * frame + sample_rate * min_silence_ms // 1000)
    out = audio[:keep].astype(np.float32, copy=True)
    fade = min(len(out), sample_rate * fade_ms // 1000)
    if fade:
        out[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return out


def change_speed(audio: np.ndarray, speed: float, window: int = 1024) -> np.ndarray:
    """Play ``speed`` times faster without changing pitch (windowed overlap-add)."""
    if speed == 1.0 or len(audio) == 0:
        return audio
    hop_out = window // 4
    hop_in = max(1, round(hop_out * speed))
    padded = np.concatenate([audio, np.zeros(window, dtype=np.float32)])
    frames = max(1, (len(audio) - 1) // hop_in + 1)
    out = np.zeros(frames * hop_out + window, dtype=np.float64)
    norm = np.zeros_like(out)
    taper = np.hanning(window)
    for index in range(frames):
        start = index * hop_in
        out[index * hop_out:index * hop_out + window] += padded[start:start + window] * taper
        norm[index * hop_out:index * hop_out + window] += taper
    out = out / np.maximum(norm, 1e-3)
    length = max(1, round(len(audio) / speed))
    return np.clip(out[:length], -1.0, 1.0).astype(np.float32)


def crossfade_concat(chunks: list[np.ndarray], sample_rate: int, crossfade_ms: int = 50) -> np.ndarray:
    """Join chunks with an equal-gain linear crossfade."""
    if not chunks:
        return np.zeros(0, dtype=np.float32)
    out = chunks[0].astype(np.float32)
    for chunk in chunks[1:]:
        overlap = min(len(out), len(chunk), sample_rate * crossfade_ms // 1000)
        if overlap == 0:
            out = np.concatenate([out, chunk])
            continue
        ramp = np.linspace(0.0, 1.0, overlap, dtype=np.float32)
        mixed = out[-overlap:] * (1 - ramp) + chunk[:overlap] * ramp
        out = np.concatenate([out[:-overlap], mixed, chunk[overlap:]])
    return out.astype(np.float32, copy=False)


_FORMATS = {"wav": ("WAV", "PCM_16"), "flac": ("FLAC", "PCM_16"), "ogg": ("OGG", "VORBIS"),
            "mp3": ("MP3", "MPEG_LAYER_III")}


#: Rates the Opus codec takes; other audio is resampled to the next one up.
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)

#: MP3 at a constant 128 kbit/s (what OpenAI's speech API and other TTS servers serve; for
#: mono speech well past what a listener can tell from the original). libsndfile's default
#: (variable, quality 0.5) gave about 50 kbit/s. MPEG-2.5 (under 16 kHz) stops at 64.
MP3_KBIT_S = 128


def _mp3_compression(sample_rate: int) -> float:
    """libsndfile's compression level for a constant MP3_KBIT_S at ``sample_rate``: it maps
    0..1 linearly onto the bitrates of the MPEG version that rate uses."""
    low, high = (32, 320) if sample_rate >= 32000 else (8, 160) if sample_rate >= 16000 else (8, 64)
    wanted = min(max(MP3_KBIT_S + 0.5, low), high)  # + 0.5: libsndfile truncates to an integer
    return (high - wanted) / (high - low)


#: AAC (FFmpeg's encoder, through PyAV) at the same rate as MP3.
AAC_KBIT_S = 128


def _encode_aac(audio: np.ndarray, sample_rate: int) -> bytes:
    """AAC-LC in ADTS frames (``audio/aac``, what OpenAI's speech API sends), by FFmpeg's own
    encoder through PyAV (the ``[server]`` extra): libsndfile has no AAC."""
    try:
        import av
    except ImportError:
        raise GenerationError('aac needs PyAV: pip install "voicebox-core[server]"') from None
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="adts") as container:
        stream = container.add_stream("aac", rate=sample_rate, layout="mono")
        stream.bit_rate = AAC_KBIT_S * 1000
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(audio, dtype=np.float32).reshape(1, -1),
                                           format="flt", layout="mono")
        frame.sample_rate = sample_rate
        for packet in (*stream.encode(frame), *stream.encode(None)):  # None: flush
            container.mux(packet)
    return buffer.getvalue()


def encode_audio(audio: np.ndarray, sample_rate: int, fmt: str = "wav") -> bytes:
    """Encode mono float32 audio as ``wav``, ``flac``, ``ogg``, ``opus`` (Ogg Opus), ``mp3``
    (constant MP3_KBIT_S), ``aac`` (ADTS, needs PyAV) or raw ``pcm`` (s16le)."""
    if fmt == "pcm":
        return (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
    if fmt == "aac":
        return _encode_aac(audio, sample_rate)
    if fmt == "opus":
        target = next((r for r in OPUS_RATES if r >= sample_rate), OPUS_RATES[-1])
        audio = resample(audio, sample_rate, target) if target != sample_rate else audio
        buffer = io.BytesIO()
        sf.write(buffer, audio, target, format="OGG", subtype="OPUS")
        return buffer.getvalue()
    container, subtype = _FORMATS[fmt]
    buffer = io.BytesIO()
    if fmt == "mp3":
        sf.write(buffer, audio, sample_rate, format=container, subtype=subtype,
                 bitrate_mode="CONSTANT", compression_level=_mp3_compression(sample_rate))
    else:
        sf.write(buffer, audio, sample_rate, format=container, subtype=subtype)
    return buffer.getvalue()


def wav_header(sample_rate: int) -> bytes:
    """A 16-bit mono WAV header of unknown length (sizes 0xFFFFFFFF), for streaming."""
    unknown = 0xFFFFFFFF
    return (b"RIFF" + struct.pack("<I", unknown) + b"WAVEfmt " +
            struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16) +
            b"data" + struct.pack("<I", unknown))


class PcmStream:
    """Raw 16-bit mono PCM at ``target`` Hz from float32 chunks at ``source`` Hz, resampled as
    one signal (no seam at chunk edges) by FFmpeg's resampler through PyAV; the same rate
    passes through untouched."""

    def __init__(self, source: int, target: int, header: bool = False) -> None:
        self.source, self.target = source, target
        self._resampler = None
        self._pts = 0
        self._header = header  # a WAV header of unknown length first (a streamed .wav)
        if source != target:
            import av

            self._resampler = av.AudioResampler(format="s16", layout="mono", rate=target)

    def _frames(self, frame: object) -> bytes:
        assert self._resampler is not None
        return b"".join(f.to_ndarray().astype("<i2").tobytes() for f in self._resampler.resample(frame))

    def push(self, audio: np.ndarray) -> bytes:
        head = b""
        if self._header:
            head, self._header = wav_header(self.target), False
        if self._resampler is None:
            return head + encode_audio(audio, self.source, "pcm")
        import av

        chunk = np.ascontiguousarray(np.clip(audio, -1, 1), dtype=np.float32).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
        frame.sample_rate = self.source
        frame.pts = self._pts
        self._pts += chunk.shape[1]
        return head + self._frames(frame)

    def flush(self) -> bytes:
        """What the resampler still holds (call once, at the end)."""
        return self._frames(None) if self._resampler is not None else b""


class _Collected(io.RawIOBase):
    """A write-only, unseekable file whose bytes are taken as they come (a stream's output)."""

    def __init__(self) -> None:
        super().__init__()
        self._data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._data += data
        return len(data)

    def take(self) -> bytes:
        data, self._data = bytes(self._data), bytearray()
        return data


#: Streamed formats: (FFmpeg muxer, encoder).
_STREAMED = {"mp3": ("mp3", "libmp3lame"), "opus": ("ogg", "libopus"), "aac": ("adts", "aac"), "flac": ("flac", "flac")}


class EncodedStream:
    """``mp3``, ``opus`` (Ogg), ``aac`` (ADTS) or ``flac`` made as the audio comes, by FFmpeg's
    encoders and muxers through PyAV: each push returns the bytes that are ready, and the
    pieces joined are one valid file (what OpenAI's SSE deltas carry)."""

    def __init__(self, fmt: str, sample_rate: int, rate: int | None = None, kbit_s: int | None = None) -> None:
        """``rate``: the stream's own rate, when not ``sample_rate`` (the encoder resamples);
        ``kbit_s``: its bit rate, when not the default (MP3_KBIT_S for mp3, AAC_KBIT_S for aac)."""
        import av

        muxer, codec = _STREAMED[fmt]
        self._sink = _Collected()
        self._container = av.open(self._sink, "w", format=muxer)
        if rate is None:
            rate = next((r for r in OPUS_RATES if r >= sample_rate), OPUS_RATES[-1]) if fmt == "opus" else sample_rate
        self._stream = self._container.add_stream(codec, rate=rate, layout="mono")
        if kbit_s is not None:
            self._stream.bit_rate = kbit_s * 1000
        elif fmt in ("mp3", "aac"):
            self._stream.bit_rate = AAC_KBIT_S * 1000
        self._rate = sample_rate

    def push(self, audio: np.ndarray) -> bytes:
        import av

        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(np.clip(audio, -1, 1), dtype=np.float32).reshape(1, -1),
                                           format="flt", layout="mono")
        frame.sample_rate = self._rate
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        return self._sink.take()

    def flush(self) -> bytes:
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()
        return self._sink.take()


def stream_encoder(fmt: str, sample_rate: int, pcm_rate: int | None = None) -> PcmStream | EncodedStream:
    """What turns chunks of one utterance into one stream of ``fmt``: raw PCM at ``pcm_rate``
    (default the engine's), a WAV (a header of unknown length, then PCM at the engine's rate),
    or an encoded format."""
    if fmt == "pcm":
        return PcmStream(sample_rate, pcm_rate or sample_rate)
    if fmt == "wav":
        return PcmStream(sample_rate, sample_rate, header=True)
    if fmt not in _STREAMED:
        raise GenerationError(f"format {fmt!r} cannot be streamed")
    return EncodedStream(fmt, sample_rate)


def save_audio(path: str | os.PathLike[str], audio: np.ndarray, sample_rate: int) -> Path:
    """Write audio atomically (a temporary file beside the target, then a rename), with the
    permissions the umask gives."""
    target = Path(path)
    fmt = target.suffix.lstrip(".").lower() or "wav"
    if fmt not in _FORMATS:
        fmt = "wav"
    data = encode_audio(audio, sample_rate, fmt)
    with atomic_file(target) as handle:
        handle.write(data)
    return target
