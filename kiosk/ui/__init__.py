"""The kiosk window (PySide6): live camera, clock, decision cards; recognition in a worker process."""
