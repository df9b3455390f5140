"""`python -m sulfml.cli` runs the `sulfml` command."""

import sys

from sulfml.cli import main

sys.exit(main())
