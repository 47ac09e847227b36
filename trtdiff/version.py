"""The package version, apart from `trtdiff/__init__.py` so that modules can read it without
importing the public API (which imports them)."""

__version__ = "0.1.0"
