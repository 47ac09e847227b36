"""`python -m trtdiff` runs the CLI."""

from trtdiff.cli import main

if __name__ == "__main__":
    main()
