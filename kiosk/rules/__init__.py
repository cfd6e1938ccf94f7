"""Attendance rules (pure): schedules and shifts, holidays and Ramadan, the daily verdict."""
