"""``voicebox serve``."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["serve"]


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from voicebox_core.server.app import create_app

    app = create_app(Path(args.data_dir) if args.data_dir else None)
    state = app.state.voicebox
    print(f"voicebox: {len(state.registry.engines)} engine(s), "
          f"{len(state.registry.failures)} failed plugin(s); data in {state.settings.data_dir}; "
          f"http://{args.host}:{args.port}", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
