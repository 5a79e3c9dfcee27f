"""Command-line shell over taoke's Python API."""
