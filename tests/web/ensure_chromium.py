"""Make sure Debian's Chromium is installed (the browser tests drive it; Playwright's own
browser download does not work on our machines). Installs it with apt when missing and
this process may (root); otherwise says what to do and fails."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

CHROMIUM = os.environ.get("VOICEBOX_CHROMIUM", "/usr/bin/chromium")


def main() -> int:
    if os.path.isfile(CHROMIUM):
        return 0
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print(f"no Chromium at {CHROMIUM}: run `sudo apt-get install chromium` (Debian/Ubuntu) "
              "or set VOICEBOX_CHROMIUM to a Chromium binary", file=sys.stderr)
        return 1
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"], check=True, env=env)
    return 0 if os.path.isfile(CHROMIUM) else 1


if __name__ == "__main__":
    sys.exit(main())
