"""``python -m diffdepth``: the ``diffdepth`` command."""

import sys

from diffdepth.cli import main

if __name__ == "__main__":
    sys.exit(main())
