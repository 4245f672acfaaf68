"""The package version, at the bottom layer so that every module may import it."""

__version__ = "0.1.0"
