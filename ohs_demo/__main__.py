"""``python -m ohs_demo``: the one-machine demo (same as ``ohs-demo``)."""

import sys

from ohs_demo.cli import main

sys.exit(main())
