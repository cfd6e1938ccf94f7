"""The kiosk's SQLite database: schema migrations and the functions that read and write it."""

from kiosk.store.db import Store, StoreError

__all__ = ["Store", "StoreError"]
