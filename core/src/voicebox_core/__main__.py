import sys

from voicebox_core.cli import main

sys.exit(main())
