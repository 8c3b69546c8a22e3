"""Voicebox engine plugin for OpenBMB VoxCPM (metadata in .plugin, the backend in .backend)."""
