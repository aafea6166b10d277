"""``python -m gambiarra`` does what ``gambiarra-client`` does."""

from gambiarra.cli import main

if __name__ == "__main__":
    main()
