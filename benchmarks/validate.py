"""Accuracy of the streaming gait core against ground truth: real data (the shared sacral and
shoe recordings, with their independent contact references) and every simulator scenario.

Run ``python benchmarks/validate.py``; it prints the figures and exits 1 when a target is
missed. The scoring lives in :mod:`downhill_live.tools.accuracy` (the tests use it too); the
real data is found at ``$DOWNHILL_DATA`` or ``../shared/data`` beside the repository.
"""

from __future__ import annotations

import sys

from downhill_live.tools.accuracy import main

if __name__ == "__main__":
    sys.exit(main())
