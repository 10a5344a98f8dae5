"""``python -m sorabeat``."""

import sys

from sorabeat.cli import main

sys.exit(main())
