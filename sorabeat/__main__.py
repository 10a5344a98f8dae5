"""``python -m sorabeat``: the same as the ``sorabeat`` command."""

import sys

from sorabeat.cli import main

sys.exit(main())
