"""Piper text-to-speech engine for Voicebox (GPL-3.0-or-later, like piper-tts)."""

__version__ = "0.1.0"
