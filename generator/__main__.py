"""`python -m generator` runs the qgen command line."""

from .cli import main

main()
