"""Face-recognition attendance kiosk for Indonesian local governments."""

__version__ = "0.1.0"
