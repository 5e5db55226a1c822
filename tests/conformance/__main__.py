"""``python -m tests.conformance``: see README.md."""

import sys

from .cli import main

sys.exit(main())
