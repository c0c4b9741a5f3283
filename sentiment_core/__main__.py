"""`python -m sentiment_core COMMAND ...`: the command line lives in sentiment_core.cli."""
import sys

from sentiment_core.cli import main

if __name__ == "__main__":
    sys.exit(main())
