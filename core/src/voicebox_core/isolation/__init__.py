"""Isolated engines: each in its own environment and worker process, served by one host.

- :mod:`~voicebox_core.isolation.envs`: ``voicebox engines install DIST --isolated`` makes
  ``<data dir>/engines/<dist>/venv`` with core, the plugin, its ``upstream`` packages
  (--no-deps) and the user's constraints; records it; describes its engines once per set of
  installed versions (``python -m voicebox_core.worker describe``), so listing never
  imports the environment.
- :mod:`~voicebox_core.isolation.proxy`: the worker process of an engine and
  :class:`~voicebox_core.isolation.proxy.IsolatedBackend`, the TTSBackend the registry
  returns for it.
- :mod:`~voicebox_core.isolation.protocol`: what host and worker say to each other.
"""
