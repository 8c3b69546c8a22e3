"""Voicebox engine plugin for OmniVoice (metadata in .plugin, the backend in .backend)."""
