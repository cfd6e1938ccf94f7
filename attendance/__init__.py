"""Attendance rules and recaps, shared by the kiosk and the collector server.

Pure Python (the standard library only: no Qt, dlib, OpenCV or numpy), so that the collector
installs without the kiosk's device packages:

* `schedule` - schedules and shifts, the work date of a punch, holidays and Ramadan;
* `day` - one employee's day: masuk, pulang, TL/PSW bands, alpha, leave and permits, corrections;
* `recap` - the daily list and the monthly recap per employee and per unit (one computation for
  every page and file);
* `holidays` - the holiday calendar CSV;
* `config` - the [attendance], [schedules.NAME] and [leave] settings and their checks;
* `csvfile` - CSV without spreadsheet formulas.
"""
