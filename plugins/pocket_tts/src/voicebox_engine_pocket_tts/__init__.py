"""Kyutai's Pocket TTS as a Voicebox engine (metadata in .plugin, the backend in .backend)."""

__version__ = "0.1.0"
