"""kefu: the platform kit shared by every service."""

__version__ = "0.1.0"
