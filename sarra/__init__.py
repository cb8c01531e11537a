"""sarra: a data pump in the Sarracenia style."""

__version__ = "0.1.0"
