"""`python -m shortener`: the CLI's exit code becomes the process's."""

from shortener.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
