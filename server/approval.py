"""Four eyes: a leave record or a correction that waits for a second account. Whoever approves
or rejects it must be another account than the one that entered it, and one that may change the
employee's unit (an administrator or an operator of that unit); a viewer never can. The decision
is audited with the record before and after."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from server import audit
from server.accounts import Actor
from server.db import employees, now


class ApprovalError(ValueError):
    pass


def decide(conn: Connection, who: audit.Who, actor: Actor, table, record_id: int, approve: bool, what: str,
           action_prefix: str, snapshot) -> dict:
    """Approve or reject the pending record `record_id` of `table` (leaves or corrections);
    returns it as it was. `what` names it in messages ("cuti/izin", "koreksi")."""
    row = conn.execute(select(table, employees.c.unit).join(employees, employees.c.nip == table.c.nip)
                       .where(table.c.id == record_id)).mappings().first()
    if row is None or not actor.can_read(row["unit"]):
        raise ApprovalError(f"{what} {record_id} tidak ada")
    if not actor.can_write(row["unit"]):
        raise ApprovalError(f"Anda tidak dapat menyetujui {what} pegawai unit {row['unit']}")
    if row["status"] != "pending":
        raise ApprovalError(f"{what} {record_id} tidak menunggu persetujuan (status: {row['status']})")
    if row["created_by"] == actor.id:
        raise ApprovalError(f"{what} {record_id} Anda catat sendiri: akun lain yang harus menyetujuinya (empat mata)")
    status = "approved" if approve else "rejected"
    conn.execute(update(table).where(table.c.id == record_id, table.c.status == "pending")
                 .values(status=status, decided_by=actor.id, decided_at=now()))
    audit.record(conn, who, f"{action_prefix}_{status}", f"{action_prefix}:{record_id}", row["unit"],
                 before={"status": "pending"}, after={**snapshot(row), "status": status})
    return dict(row)
