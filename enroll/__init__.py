"""Enrollment: turning HR's photos and rosters into face templates in the kiosk database."""
