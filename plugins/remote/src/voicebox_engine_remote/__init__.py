"""Remote engines for Voicebox: each configured OpenAI-compatible speech server is an engine."""

__version__ = "0.1.0"
