"""The package version (kept equal to pyproject.toml's by tests/test_docs.py)."""

__version__ = "0.1.0"
