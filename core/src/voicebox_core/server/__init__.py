"""The Voicebox HTTP server (``pip install "voicebox-core[server]"``, ``voicebox serve``)."""

from voicebox_core.server.app import create_app

__all__ = ["create_app"]
