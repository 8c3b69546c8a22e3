"""Entry script of the frozen ``voicebox`` binary: the CLI, serve included."""

import multiprocessing

# Before anything else: a frozen child process must not re-run the CLI.
multiprocessing.freeze_support()

import sys  # noqa: E402

from voicebox_core.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
