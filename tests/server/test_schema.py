"""schemathesis --checks all against a real `voicebox serve`: every request the schema allows,
and many it does not, get the answer the schema documents (loopback only).

Not derandomized: the seed is fixed and printed (``VOICEBOX_SCHEMATHESIS_SEED`` picks
another), so a failure in CI replays exactly; raise ``VOICEBOX_SCHEMATHESIS_EXAMPLES`` to
hunt further. ``/shutdown`` and ``/watchdog/disable`` are left out: they stop the server
under test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import LiveServers

CONFIG = Path(__file__).with_name("schemathesis.toml")
SEED = os.environ.get("VOICEBOX_SCHEMATHESIS_SEED", "20261201")
EXAMPLES = os.environ.get("VOICEBOX_SCHEMATHESIS_EXAMPLES", "25")


def test_schemathesis_all_checks_pass(live: LiveServers, tmp_path: Path) -> None:
    base = live.start(tmp_path / "data", VOICEBOX_MAX_QUEUE="64")
    command = [str(Path(sys.executable).with_name("schemathesis")), "--config-file", str(CONFIG), "run",
               f"{base}/openapi.json", "--checks", "all", "--seed", SEED, "--max-examples", EXAMPLES,
               "--exclude-path", "/shutdown", "--exclude-path", "/watchdog/disable",
               "--request-timeout", "120", "--no-color"]
    print(f"schemathesis seed {SEED}, {EXAMPLES} examples per operation: {' '.join(command)}")
    done = subprocess.run(command, capture_output=True, text=True, timeout=1500, cwd=tmp_path)
    summary = done.stdout[-6000:]
    print(summary)
    assert done.returncode == 0, summary
