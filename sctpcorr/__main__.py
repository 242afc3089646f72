"""`python -m sctpcorr` runs the command line."""
from sctpcorr.cli import main

main()
