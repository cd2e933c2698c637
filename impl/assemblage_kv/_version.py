"""The package's version, the one place it is written besides pyproject.toml (a test
checks that they, and the installed distribution's metadata, agree)."""

__version__ = "0.1.0"
