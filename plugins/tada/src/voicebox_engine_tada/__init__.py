"""Voicebox engine plugin for HumeAI TADA."""
