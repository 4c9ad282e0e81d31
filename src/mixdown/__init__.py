"""mixdown: learns to mix music and tells you the console settings it used."""

__version__ = "0.1.0"
