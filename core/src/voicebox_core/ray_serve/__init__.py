"""Engines as Ray Serve deployments behind the same server (``voicebox serve --ray ADDRESS``).

The isolated-engine seam, one step further: the registry hands out a
:class:`~voicebox_core.ray_serve.backend.RayBackend` (a TTSBackend that speaks to a Serve
deployment handle) instead of a local worker, and nothing above the registry changes.
One Serve application per engine (:mod:`~voicebox_core.ray_serve.deploy`), its replicas
built from the engine's plugin (:mod:`~voicebox_core.ray_serve.replica`) with the resources
and environment of :mod:`~voicebox_core.ray_serve.config`. Ray itself is the optional extra
``voicebox-core[ray]``; nothing here imports it until a server is started with ``--ray``.
See docs/scale.md.
"""
