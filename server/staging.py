"""Files HR uploaded, kept between a preview and its confirmation. In the database, because the
confirmation may reach another server process than the upload; only the account that uploaded
a file can confirm it, and a file not confirmed within a day is deleted."""

from __future__ import annotations

import base64
import datetime as dt
import uuid

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection

from server.db import now, staged_imports

KEEP = dt.timedelta(days=1)


class StagingError(ValueError):
    pass


def stage(conn: Connection, account_id: int, kind: str, filename: str, data: bytes) -> str:
    conn.execute(delete(staged_imports).where(staged_imports.c.created_at < now() - KEEP))
    sid = str(uuid.uuid4())
    conn.execute(insert(staged_imports).values(id=sid, account_id=account_id, kind=kind, filename=filename[:200],
                                               content=base64.b64encode(data).decode("ascii"), created_at=now()))
    return sid


def take(conn: Connection, sid: str, account_id: int, kind: str) -> tuple[str, bytes]:
    """(filename, bytes) of a staged file of this account, deleted from the stage."""
    row = conn.execute(select(staged_imports).where(staged_imports.c.id == sid, staged_imports.c.kind == kind,
                                                    staged_imports.c.account_id == account_id,
                                                    staged_imports.c.created_at >= now() - KEEP)).first()
    if row is None:
        raise StagingError("berkas pratinjau ini sudah diterapkan, kedaluwarsa, atau milik akun lain; unggah lagi")
    conn.execute(delete(staged_imports).where(staged_imports.c.id == sid))
    return row.filename, base64.b64decode(row.content)
