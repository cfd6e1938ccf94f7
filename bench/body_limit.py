"""The collector's memory while a client streams a huge chunked body (issue 14): with no token,
and with a valid token. Prints the server process's resident memory before, its peak, how many
bytes the client got to send before the answer, and the answer.

    python bench/body_limit.py                       # this checkout's server
    python bench/body_limit.py --baseline ../main    # and another checkout's, in the same run

Each server is `python -m server serve` in its own process on a fresh SQLite file on loopback.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024


def memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def upload(port: int, token: str | None, total: int, chunk: int = 1 * MB) -> tuple[str, int, int, float]:
    """(status line, bytes sent when it arrived, bytes sent in all, seconds) of a chunked POST."""
    s = socket.create_connection(("127.0.0.1", port), timeout=600)
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    s.sendall(f"POST /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{auth}"
              "Transfer-Encoding: chunked\r\n\r\n".encode())
    sent = [0]
    payload = b"%x\r\n" % chunk + b"[" * chunk + b"\r\n"

    def send():
        try:
            while sent[0] < total:
                s.sendall(payload)
                sent[0] += chunk
            s.sendall(b"0\r\n\r\n")
        except OSError:
            pass

    t0 = time.monotonic()
    th = threading.Thread(target=send, daemon=True)
    th.start()
    buf, at_answer = b"", None
    while b"\r\n" not in buf:
        data = s.recv(65536)
        if not data:
            break
        buf += data
        at_answer = sent[0] if at_answer is None else at_answer
    elapsed = time.monotonic() - t0
    th.join(600)
    s.close()
    return buf.split(b"\r\n", 1)[0].decode(errors="replace"), at_answer or 0, sent[0], elapsed


def measure(root: Path, total: int) -> list[dict]:
    python = root / ".venv" / "bin" / "python"
    tmp = Path(tempfile.mkdtemp(prefix="body-limit-"))
    env = {**os.environ, "KIOSK_SERVER_DB": str(tmp / "collector.db"), "PYTHONPATH": str(root)}
    run = [str(python), "-m", "server"]
    subprocess.run([*run, "migrate"], env=env, check=True, capture_output=True, cwd=root)
    r = subprocess.run([*run, "register-device", "kiosk-bench", "--unit", "Dinas Kominfo"], env=env,
                       capture_output=True, text=True, cwd=root)
    if r.returncode:  # an older server: no units
        r = subprocess.run([*run, "register-device", "kiosk-bench"], env=env, capture_output=True, text=True,
                           cwd=root, check=True)
    token = r.stdout.strip()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([*run, "serve", "--port", str(port)], env=env, cwd=root, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the server in {root} did not start") from None
                time.sleep(0.2)
        rows = []
        for label, tok in (("no token", None), ("valid token", token)):
            rss0, _ = memory_mb(proc.pid)
            status, at_answer, sent, secs = upload(port, tok, total)
            rss1, peak = memory_mb(proc.pid)
            rows.append({"server": root.name, "request": label, "rss_before": rss0, "peak": peak, "rss_after": rss1,
                         "answer": status, "sent_at_answer": at_answer / MB, "sent": sent / MB, "seconds": secs})
        return rows
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mb", type=int, default=600, help="size of the chunked body (default 600 MB)")
    p.add_argument("--baseline", type=Path, help="another checkout (with its .venv) to measure in the same run")
    args = p.parse_args()
    rows = measure(ROOT, args.mb * MB)
    if args.baseline:
        rows += measure(args.baseline.resolve(), args.mb * MB)
    head = ["server", "request", "rss_before", "peak", "rss_after", "answer", "sent_at_answer", "sent", "seconds"]
    print(f"chunked body of {args.mb} MB to POST /api/v1/events; memory of the server process in MB "
          "(peak = VmHWM since it started); MB the client had sent when the answer came, and in all")
    print(" | ".join(head))
    for r in rows:
        print(" | ".join(f"{r[h]:.1f}" if isinstance(r[h], float) and h != "seconds" else
                         f"{r[h]:.2f}" if h == "seconds" else str(r[h]) for h in head))


if __name__ == "__main__":
    sys.exit(main())
