"""crashflow: the common layer shared by the collect, process, aggregate and query functions."""

__version__ = "0.1.0"
