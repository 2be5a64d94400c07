"""`python -m tlslens` runs the command line."""

from tlslens.cli.main import entry

entry()
