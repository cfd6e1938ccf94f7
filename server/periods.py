"""Monthly periods: open until closed, closed once every kiosk has reported past the month's
end; a closed month's leave and corrections no longer change until it is reopened (audited)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Connection


def closed_problems(conn: Connection, first: dt.date, last: dt.date) -> list[str]:
    """Why records dated `first`..`last` cannot change now: the closed months they touch."""
    from server.db import periods

    months = []
    d = first.replace(day=1)
    while d <= last:
        months.append(f"{d:%Y-%m}")
        d = (d + dt.timedelta(days=32)).replace(day=1)
    closed = [m for (m,) in conn.execute(periods.select().with_only_columns(periods.c.month)
                                         .where(periods.c.month.in_(months), periods.c.status == "closed"))]
    return [f"periode {m} sudah ditutup; buka kembali dulu (administrator)" for m in sorted(closed)]
