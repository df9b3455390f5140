"""`python -m sulfml` runs the `sulfml` command."""

import sys

from sulfml.cli import main

sys.exit(main())
