"""Qwen3-TTS engines for Voicebox: ``qwen`` (cloning), ``qwen_custom_voice``, ``qwen_voice_design``.

Metadata lives in :mod:`voicebox_engine_qwen.plugin` (no torch); the backends in
:mod:`voicebox_engine_qwen.backend` are imported only when an engine is first used.
"""

__version__ = "0.1.0"
