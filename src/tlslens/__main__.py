"""`python -m tlslens` runs the command line."""

import sys

from tlslens.cli.main import main

sys.exit(main())
