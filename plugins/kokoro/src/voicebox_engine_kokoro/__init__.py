"""Kokoro-82M text-to-speech engine for Voicebox (50 preset voices, 8 languages, 24 kHz)."""

__version__ = "0.1.0"
