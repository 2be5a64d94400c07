"""Command-line interface. Renders analysis results; never parses bytes itself."""
