"""LuxTTS (48 kHz zero-shot voice cloning, a ZipVoice distillation) as a Voicebox engine."""

__version__ = "0.1.0"
