"""sulfml: room-temperature Li-ion conductivity and activation energy of solid electrolytes."""

import os

# XGBoost's OpenMP threads spin while they wait; when another process shares the cores (a second
# tuning worker, a test run) that spinning made a 10 s cross-validation take 10 minutes on 2 cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
