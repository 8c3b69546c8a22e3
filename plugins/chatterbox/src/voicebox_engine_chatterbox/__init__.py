"""Chatterbox (Resemble AI) engines for Voicebox: ``chatterbox`` (23 languages) and ``chatterbox_turbo``."""

__version__ = "0.1.0"
