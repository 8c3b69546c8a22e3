"""Voicebox engine plugin for Microsoft VibeVoice (metadata in .plugin, the backend in .backend)."""
