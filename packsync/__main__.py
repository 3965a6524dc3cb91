"""Allow ``python -m packsync``."""

from packsync.cli import main

if __name__ == "__main__":
    main()
