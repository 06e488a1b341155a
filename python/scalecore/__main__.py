"""``python -m scalecore``: the same as the ``scalecore`` command."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
