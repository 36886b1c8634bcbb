"""``python -m registry.cli``."""

import sys

from registry.cli.main import main

sys.exit(main())
