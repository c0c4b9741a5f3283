"""`python -m sentiment_core COMMAND ...`: the command line lives in sentiment_core.cli."""
from sentiment_core.cli import main
from sentiment_core.cli.quick_exit import quick_exit

if __name__ == "__main__":
    quick_exit(main())
