"""``python -m edgealloc``: the command line (see :mod:`edgealloc.cli`)."""

from .cli import main

if __name__ == "__main__":
    main()
