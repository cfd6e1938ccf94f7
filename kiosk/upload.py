"""Upload to the collector server: outbox, acknowledged batches, heartbeat, roster.

Protocol v1 (docs/protocol/openapi-v1.yaml, design in docs/upload.md). The Uploader runs in a
background thread with its own SQLite connection, so it never holds up recognition (which runs
in its own process anyway) nor the window:

* An event stays in the outbox until the server has acknowledged it. A batch is marked
  ``in_flight`` before it is sent; each event the server answers ``accepted`` or ``duplicate``
  becomes ``done``, ``rejected`` ones are kept with the server's reason and never re-sent, and
  anything else (no reply, a malformed reply, an event missing from the reply) goes back to
  ``pending``. Rows left ``in_flight`` by a crash or a power cut are re-queued at start; the server
  answers ``duplicate`` for those it had stored, so nothing is lost and nothing is doubled.
* Failures back off exponentially with jitter, at least as long as the server's Retry-After.
* 401/403 (the token is unknown or revoked) stops uploading, is kept across restarts, and shows
  in ``status()``; putting a new token in the token file resumes.
* TLS is verified (``[server] ca_file`` for a government's own certificate authority).
* The token is read from ``[server] token_file``; it is never logged, put in an exception
  or a repr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import email.utils
import hashlib
import json
import logging
import random
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import requests

from kiosk import __version__
from kiosk.config import section_defaults

log = logging.getLogger("kiosk.upload")

API = "/api/v1"
STATES = ("ok", "offline", "revoked", "not_configured")


class UploadError(RuntimeError):
    """A try failed; the uploader backs off and tries again. `retry_after` in seconds, if given."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class TokenRefused(RuntimeError):
    """The server does not accept this device's token (401 unknown / 403 revoked)."""


class TooLarge(UploadError):
    """413: the batch is too big for the server (or its proxy); the uploader halves it."""


class Refused(UploadError):
    """400/422: the server refuses this request as sent (sending it again will not help);
    `fields` names what it refused, e.g. "templates[3].encoding"."""

    def __init__(self, message: str, fields: list[str]):
        super().__init__(message)
        self.fields = fields


_S = section_defaults("server")  # the one copy of the defaults: kiosk/config.py's schema


@dataclass(frozen=True)
class Settings:
    """The ``[server]`` settings (meaning and defaults: kiosk/config.py), paths made absolute."""

    url: str = _S["url"]
    token_file: str = _S["token_file"]
    ca_file: str = _S["ca_file"]
    batch_size: int = _S["batch_size"]
    connect_timeout_s: float = _S["connect_timeout_s"]
    timeout_s: float = _S["timeout_s"]
    interval_s: float = _S["interval_s"]
    heartbeat_s: float = _S["heartbeat_s"]
    roster_s: float = _S["roster_s"]
    backoff_base_s: float = _S["backoff_base_s"]
    backoff_max_s: float = _S["backoff_max_s"]
    retry_after_max_s: float = _S["retry_after_max_s"]
    proxy: str = _S["proxy"]

    @classmethod
    def from_config(cls, cfg, base_dir: Path | None = None) -> "Settings":
        """Every [server] setting; token_file and ca_file relative to the config file's folder."""
        s = dict(cfg.values["server"])
        base = base_dir or getattr(cfg, "base_dir", Path.cwd())

        def path(p: str) -> str:
            if not p:
                return ""
            q = Path(p).expanduser()
            return str(q if q.is_absolute() else Path(base) / q)

        s.update(url=s["url"].rstrip("/"), token_file=path(s["token_file"]), ca_file=path(s["ca_file"]))
        return cls(**s)


class _BearerAuth(requests.auth.AuthBase):
    """Adds the token to each request; its repr never shows it."""

    def __init__(self, token: str):
        self._token = token

    def __call__(self, r):
        r.headers["Authorization"] = f"Bearer {self._token}"
        return r

    def __repr__(self) -> str:
        return "<BearerAuth hidden>"


def fingerprint(token: str) -> str:
    """Tells tokens apart in the sync state without storing them."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as delay-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return max(0.0, (when - dt.datetime.now(dt.timezone.utc)).total_seconds())


def backoff_delay(failures: int, base: float, cap: float, retry_after: float | None = None,
                  rng: random.Random = random, retry_after_max: float = float("inf")) -> float:
    """Exponential backoff with jitter: half of min(cap, base * 2^(n-1)) plus a random part up
    to the other half (never zero: a server coming back is not hit by every kiosk at once), and
    never shorter than the server's Retry-After - of which at most `retry_after_max` is honoured
    (a misconfigured server asking for a day must not silence the kiosk for a day)."""
    d = min(cap, base * 2 ** max(0, failures - 1))
    delay = d / 2 + rng.uniform(0, d / 2)
    return max(delay, min(retry_after or 0.0, retry_after_max))


def _utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


class Client:
    """HTTP + JSON for protocol v1; raises UploadError / TokenRefused / TooLarge."""

    def __init__(self, settings: Settings, token: str):
        self.s = settings
        self.http = requests.Session()
        self.http.auth = _BearerAuth(token)
        self.http.verify = settings.ca_file or True
        self.http.trust_env = False  # a stray HTTPS_PROXY must not divert the kiosk: only [server] proxy
        if settings.proxy:
            self.http.proxies = {"http": settings.proxy, "https": settings.proxy}
        self.http.headers["User-Agent"] = f"kiosk/{__version__}"

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, path: str, body: dict | None = None, params: dict | None = None) -> dict:
        url = self.s.url + API + path
        try:
            r = self.http.request(method, url, json=body, params=params,
                                  timeout=(self.s.connect_timeout_s, self.s.timeout_s))
        except requests.exceptions.SSLError as e:
            raise UploadError(f"TLS certificate of {self.s.url} not trusted ({_short(e)}); "
                              "set [server] ca_file to the government CA's PEM file") from None
        except requests.exceptions.Timeout:
            raise UploadError(f"{self.s.url}: no answer within {self.s.timeout_s:g} s") from None
        except requests.exceptions.ConnectionError as e:
            raise UploadError(f"{self.s.url}: cannot connect ({_short(e)})") from None
        except requests.exceptions.RequestException as e:
            raise UploadError(f"{self.s.url}: request failed ({_short(e)})") from None
        if r.status_code in (401, 403):
            raise TokenRefused(f"the server refused this device's token (HTTP {r.status_code}"
                               f"{': revoked' if r.status_code == 403 else ': unknown token'})")
        if r.status_code == 413:
            raise TooLarge(f"{self.s.url}: batch too large (HTTP 413)")
        if r.status_code in (400, 422):
            raise Refused(f"{self.s.url}{API}{path}: HTTP {r.status_code}: {_message(r)}", _fields(r))
        if r.status_code != 200:
            raise UploadError(f"{self.s.url}{API}{path}: HTTP {r.status_code}",
                              retry_after_seconds(r.headers.get("Retry-After")))
        try:
            data = r.json()
        except ValueError:
            raise UploadError(f"{self.s.url}{API}{path}: the reply is not JSON") from None
        if not isinstance(data, dict):
            raise UploadError(f"{self.s.url}{API}{path}: the reply is not a JSON object")
        return data


def _message(r) -> str:
    try:
        return _short(ValueError(str(r.json().get("message") or r.reason)))
    except (ValueError, AttributeError):
        return r.reason or ""


def _fields(r) -> list[str]:
    try:
        return [str(f.get("field")) for f in r.json().get("fields") or [] if isinstance(f, dict)]
    except (ValueError, AttributeError):
        return []


def _short(e: Exception) -> str:
    text = str(e)
    return text if len(text) < 200 else text[:200] + "..."


class Uploader:
    """The background uploader. ``start()`` once; ``notify()`` after recording an event;
    ``status()`` from any thread (no database access); ``stop()`` at exit.

    ``run_once()`` does one full round in the calling thread (`kiosk sync --once`)."""

    def __init__(self, cfg, db_path: Path | None = None, *, device_id: str | None = None,
                 settings: Settings | None = None, software_version: str = __version__,
                 clock_synced=None, rng: random.Random | None = None):
        self.cfg = cfg
        self.settings = settings or Settings.from_config(cfg)
        self.db_path = Path(db_path or cfg.db_path)
        self.device_id = device_id or cfg.device.id
        self.software_version = software_version
        if clock_synced is None:
            from kiosk.clock import clock_synchronised as clock_synced
        self._clock_synced = clock_synced
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._status = {"state": "not_configured" if not self.settings.url else "offline", "pending": None,
                        "rejected": 0, "last_success_at": None, "last_error": None, "roster_version": None}
        self._batch_size = self.settings.batch_size
        self._last_heartbeat = 0.0
        self._last_roster = 0.0
        self._server_roster_version: int | None = None
        self.failures = 0
        self._retry_after: float | None = None
        self.stats = {"batches": 0, "accepted": 0, "duplicate": 0, "rejected": 0, "failures": 0}

    # --- thread ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="uploader", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def notify(self) -> None:
        """An event was recorded: send it soon."""
        self._wake.set()

    def status(self) -> dict:
        with self._lock:
            return dict(self._status)

    def _set(self, **kw) -> None:
        with self._lock:
            self._status.update(kw)

    def _sleep(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()

    def _run(self) -> None:
        from kiosk.store import Store, StoreError

        store = None
        while not self._stop.is_set():
            try:
                if store is None:
                    store = Store(self.db_path, device_id=self.device_id)
                    n = store.outbox_requeue()
                    if n:
                        log.info("re-queued %d event(s) left in flight", n)
                result = self.round(store)
            except StoreError as e:
                self._set(last_error=str(e))
                log.warning("uploader: %s", e)
                if store is not None:
                    store.close()
                    store = None
                self._sleep(30)
                continue
            except Exception as e:  # never let the thread die silently
                log.exception("uploader: unexpected error")
                self._set(state="offline", last_error=f"unexpected error: {e}")
                result = "failed"
            if result == "ok":
                self._sleep(self.settings.interval_s)
            elif result == "failed":
                self.failures += 1
                retry_after, self._retry_after = self._retry_after, None
                delay = self.next_delay(retry_after)
                self._stop.wait(delay)  # not woken by notify(): backoff is kept
            else:  # revoked / not configured: look at the token file again now and then
                self._sleep(max(30.0, self.settings.interval_s))
        if store is not None:
            store.close()

    def next_delay(self, retry_after: float | None = None) -> float:
        """The pause after the current run of failures (backoff, Retry-After up to its cap)."""
        s = self.settings
        return backoff_delay(self.failures, s.backoff_base_s, s.backoff_max_s, retry_after, self._rng,
                             retry_after_max=s.retry_after_max_s)

    # --- one round ------------------------------------------------------------------------

    def _token(self) -> str | None:
        if not self.settings.url:
            self._set(state="not_configured", last_error=None)
            return None
        if not self.settings.token_file:
            self._set(state="not_configured", last_error="[server] token_file is not set")
            return None
        try:
            token = Path(self.settings.token_file).read_text(encoding="utf-8").strip()
        except OSError as e:
            self._set(state="not_configured",
                      last_error=f"token file {self.settings.token_file} cannot be read ({e.strerror})")
            return None
        if not token:
            self._set(state="not_configured", last_error=f"token file {self.settings.token_file} is empty")
            return None
        return token

    def round(self, store) -> str:
        """Push new templates, send every pending event, heartbeat, pull the roster.
        Returns 'ok', 'failed' (retry with backoff), 'revoked' or 'not_configured'."""
        from kiosk.store import StoreError

        counts = store.outbox_counts()
        self._set(pending=counts["pending"] + counts["in_flight"], rejected=counts["rejected"],
                  roster_version=_int(store.sync_get("roster_version")))
        token = self._token()
        if token is None:
            return "not_configured"
        fp = fingerprint(token)
        if store.sync_get("token_state") == "revoked" and store.sync_get("token_fp") == fp:
            self._set(state="revoked", last_error=store.sync_get("token_error"))
            return "revoked"
        client = Client(self.settings, token)
        try:
            try:
                self._push_templates(client, store)
                self._push_holds(client, store)
                self._set(roster_error=None)
            except (TokenRefused, StoreError):
                raise
            except UploadError as e:  # the roster waits; the events never do
                self._set(roster_error=str(e))
                log.warning("uploader: roster push: %s", e)
            self._set(refused_templates=len(store.refused_templates()))
            self._drain(client, store)
            now = time.monotonic()
            if now - self._last_heartbeat >= self.settings.heartbeat_s or self._sent_since_heartbeat:
                try:
                    self._heartbeat(client, store)
                except Refused as e:  # sending it again will not help; the events must not wait for it
                    self._last_heartbeat, self._sent_since_heartbeat = now, False
                    log.error("uploader: the server refused the heartbeat: %s", e)
            if (now - self._last_roster >= self.settings.roster_s
                    or (self._server_roster_version or 0) > (_int(store.sync_get("roster_version")) or 0)):
                self._pull_roster(client, store)
        except TokenRefused as e:
            store.sync_set({"token_state": "revoked", "token_fp": fp, "token_error": str(e)})
            self._set(state="revoked", last_error=str(e))
            log.error("uploader: %s; uploading stopped until a new token is installed", e)
            return "revoked"
        except UploadError as e:
            self.stats["failures"] += 1
            self._retry_after = e.retry_after
            self._set(state="offline", last_error=str(e))
            log.warning("uploader: %s", e)
            return "failed"
        finally:
            client.close()
            counts = store.outbox_counts()
            self._set(pending=counts["pending"] + counts["in_flight"], rejected=counts["rejected"])
        if store.sync_get("token_state") in ("revoked", "retry"):
            store.sync_set({"token_state": "ok", "token_fp": fp, "token_error": None})
        self.failures = 0
        self._set(state="ok", last_error=None, last_success_at=_utc_now())
        return "ok"

    _sent_since_heartbeat = False

    def _drain(self, client: Client, store) -> None:
        while not self._stop.is_set():
            batch_id = str(uuid.uuid4())
            rows = store.outbox_take(self._batch_size, batch_id)
            if not rows:
                return
            ids = [r["id"] for r in rows]
            try:
                reply = client.request("POST", "/events", {"batch_id": batch_id, "events": [_wire(r) for r in rows]})
                done, rejected, missing = _read_results(reply, ids)
            except TooLarge as e:
                store.outbox_settle([], {}, ids, str(e))
                if self._batch_size == 1:
                    raise UploadError(f"{e}, even for a single event") from None
                self._batch_size = max(1, self._batch_size // 2)
                log.warning("uploader: %s; batch size now %d", e, self._batch_size)
                continue
            except BaseException as e:
                store.outbox_settle([], {}, ids, str(e) if isinstance(e, UploadError) else "interrupted")
                raise
            store.outbox_settle(done, rejected, missing,
                                "missing from the server's reply" if missing else "")
            self.failures = 0  # progress: the next failure starts the backoff again from the base
            self.stats["batches"] += 1
            self.stats["accepted"] += reply.get("accepted", 0) if isinstance(reply.get("accepted"), int) else 0
            self.stats["duplicate"] += reply.get("duplicate", 0) if isinstance(reply.get("duplicate"), int) else 0
            self.stats["rejected"] += len(rejected)
            self._sent_since_heartbeat = True
            for eid, reason in rejected.items():
                log.error("uploader: the server rejected event %s: %s", eid, reason)
            if missing:
                raise UploadError(f"the server's reply left out {len(missing)} of {len(ids)} event(s)")

    def _heartbeat(self, client: Client, store) -> None:
        counts = store.outbox_counts()
        newest, acked = store.newest_times()
        try:
            free = shutil.disk_usage(self.db_path.parent).free
        except OSError:
            free = None
        reply = client.request("POST", "/heartbeat", {
            "software_version": self.software_version, "pending": counts["pending"] + counts["in_flight"],
            "rejected": counts["rejected"], "newest_recorded_at": newest, "newest_acked_at": acked,
            "clock_synced": bool(self._clock_synced()), "free_disk_bytes": free,
            "roster_version": _int(store.sync_get("roster_version")) or 0, "sent_at": _utc_now()})
        self._last_heartbeat = time.monotonic()
        self._sent_since_heartbeat = False
        v = reply.get("roster_version")
        self._server_roster_version = v if isinstance(v, int) else None

    def _push_templates(self, client: Client, store) -> None:
        import base64

        while True:
            emps, tmps = store.templates_to_push(500)
            if not tmps:
                return
            body = {"employees": [{**e, "active": bool(e["active"])} for e in emps],
                    "templates": [{**t, "encoding": base64.b64encode(t["encoding"]).decode()} for t in tmps]}
            try:
                reply = client.request("POST", "/roster", body)
            except Refused as e:  # a bad item fails the request: set it (or, unnamed, all) aside
                refused = _refused_items(e, emps, tmps)
                store.mark_templates_refused(refused)
                for uid, (nip, reason) in refused.items():
                    log.error("uploader: the server refused template %s of %s: %s", uid, nip, reason)
                continue
            results = reply.get("templates")
            if not isinstance(results, list):
                raise UploadError("the server's reply to the template upload is malformed")
            for r in reply.get("employees") or []:
                if isinstance(r, dict) and r.get("status") == "refused":
                    log.error("uploader: the server refused employee %s: %s", r.get("nip"), r.get("reason"))
            sent = {t["uid"]: t["nip"] for t in tmps}
            answered = {r["uid"]: r for r in results if isinstance(r, dict) and r.get("uid") in sent}
            ok = [u for u, r in answered.items() if r.get("status") in ("accepted", "duplicate")]
            refused = {u: (sent[u], str(r.get("reason") or "refused by the server"))
                       for u, r in answered.items() if r.get("status") == "refused"}
            store.mark_templates_pushed(ok)
            store.mark_templates_refused(refused)
            for uid, (nip, reason) in refused.items():
                log.error("uploader: the server refused template %s of %s: %s", uid, nip, reason)
            if len(ok) + len(refused) < len(sent):
                raise UploadError(f"the server did not acknowledge {len(sent) - len(ok) - len(refused)} template(s)")

    def _push_holds(self, client: Client, store) -> None:
        """Look-alike holds made or removed here (after the templates: a hold names an employee
        the server must know). A hold the server refuses stays in force here, not sent again."""
        import base64

        while True:
            holds = store.holds_to_push(500)
            if not holds:
                return
            body = {"holds": [{"uid": h["uid"], "nip": h["nip"], "resembles": h["resembles"],
                               "encoding": base64.b64encode(h["encoding"]).decode(),
                               "model_version": h["model_version"], "source": h["source"],
                               "created_at": h["created_at"]} for h in holds if not h["deleted"]],
                    "removed_holds": [h["uid"] for h in holds if h["deleted"]]}
            try:
                reply = client.request("POST", "/roster", body)
            except Refused as e:  # the schema refused the batch: set it aside, say why
                store.mark_holds_pushed([], [h["uid"] for h in holds])
                log.error("uploader: the server refused %d look-alike hold(s): %s", len(holds), e)
                continue
            answered = {r.get("uid"): r for r in [*(reply.get("holds") or []), *(reply.get("removed_holds") or [])]
                        if isinstance(r, dict)}
            sent = [h["uid"] for h in holds]
            ok = [u for u in sent if answered.get(u, {}).get("status") in ("accepted", "duplicate", "unchanged")]
            refused = [u for u in sent if answered.get(u, {}).get("status") == "refused"]
            store.mark_holds_pushed(ok, refused)
            for u in refused:
                log.error("uploader: the server refused look-alike hold %s: %s", u, answered[u].get("reason"))
            if len(ok) + len(refused) < len(sent):
                raise UploadError(f"the server did not acknowledge {len(sent) - len(ok) - len(refused)} "
                                  "look-alike hold(s)")

    def _pull_roster(self, client: Client, store) -> None:
        from kiosk.store import StoreError

        for _ in range(1000):  # pages
            since = _int(store.sync_get("roster_version")) or 0
            page = client.request("GET", "/roster", params={"since": since})
            if not (isinstance(page.get("version"), int) and isinstance(page.get("employees"), list)
                    and isinstance(page.get("templates"), list)):
                raise UploadError("the server's roster reply is malformed")
            try:
                store.apply_roster(page)
            except (KeyError, TypeError, ValueError) as e:
                raise UploadError(f"the server's roster is malformed ({e}); nothing was changed") from None
            except StoreError:
                raise
            self._set(roster_version=page["version"])
            if not page.get("more"):
                break
        self._last_roster = time.monotonic()


def _refused_items(e: Refused, emps: list[dict], tmps: list[dict]) -> dict[str, tuple[str, str]]:
    """uid -> (nip, reason) for the templates a 400/422 names (`templates[i]`, or `employees[i]`:
    that employee's templates); all of them when it names none."""
    import re

    named: dict[str, tuple[str, str]] = {}
    for field in e.fields:
        m = re.match(r"(templates|employees)\[(\d+)\]", field)
        if not m or int(m.group(2)) >= len(tmps if m.group(1) == "templates" else emps):
            continue
        i = int(m.group(2))
        nips = {tmps[i]["nip"]} if m.group(1) == "templates" else {emps[i]["nip"]}
        for t in tmps:
            if t["nip"] in nips and (m.group(1) == "employees" or t["uid"] == tmps[i]["uid"]):
                named[t["uid"]] = (t["nip"], str(e))
    return named or {t["uid"]: (t["nip"], str(e)) for t in tmps}


def _int(v) -> int | None:
    try:
        return int(v) if v is not None else None
    except ValueError:
        return None


WIRE_FIELDS = ("id", "nip", "kind", "local_time", "utc_at", "local_date", "work_date", "in_window",
               "monotonic_ns", "boot_id", "clock_synced", "distance", "margin", "device_id",
               "corrects", "correction_source")  # the last two: null unless the event corrects another


def _wire(row: dict) -> dict:
    return {k: row.get(k) for k in WIRE_FIELDS}


def _read_results(reply: dict, ids: list[str]) -> tuple[list[str], dict[str, str], list[str]]:
    """(acknowledged ids, rejected id -> reason, ids the reply does not answer for)."""
    results = reply.get("results")
    if not isinstance(results, list):
        raise UploadError("the server's reply has no list of results")
    sent = set(ids)
    done, rejected = [], {}
    for r in results:
        if not isinstance(r, dict) or r.get("id") not in sent:
            continue
        if r.get("status") in ("accepted", "duplicate"):
            done.append(r["id"])
        elif r.get("status") == "rejected":
            rejected[r["id"]] = str(r.get("reason") or "rejected by the server")
    answered = set(done) | set(rejected)
    return done, rejected, [i for i in ids if i not in answered]


# --- `kiosk sync` ---------------------------------------------------------------------------

def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sync", help="upload to the collector server now, or show the upload state",
                       description="Send every pending event to the collector, push templates enrolled here, "
                                   "pull the roster (--once), or show the state (--status).")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--once", action="store_true", help="one full round now; exit 0 when everything was sent")
    g.add_argument("--status", action="store_true", help="pending, rejected, last success, token state")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_sync)


def cmd_sync(args, cfg, open_store) -> int:
    up = Uploader(cfg)
    with open_store() as store:
        if args.status:
            counts = store.outbox_counts()
            newest, acked = store.newest_times()
            token_state = store.sync_get("token_state") or "ok"
            out = {"server": up.settings.url or None, "state": "not_configured" if not up.settings.url
                   else ("revoked" if token_state == "revoked" else "configured"),
                   **counts, "newest_recorded_at": newest, "newest_acked_at": acked,
                   "roster_version": _int(store.sync_get("roster_version")),
                   "token_error": store.sync_get("token_error") if token_state == "revoked" else None,
                   "rejected_events": store.outbox_rejected(), "refused_templates": store.refused_templates()}
            _print(out, args.json)
            return 0
        requeued = store.outbox_requeue()
        store.retry_refused_templates()  # a technician asks explicitly: perhaps HR fixed it on the server
        up._last_heartbeat = up._last_roster = float("-inf")
        if store.sync_get("token_state") == "revoked":  # a technician asks explicitly: try again
            store.sync_set({"token_state": "retry"})
        result = up.round(store)
        st = up.status()
    out = {"result": result, "state": st["state"], "pending": st["pending"], "rejected": st["rejected"],
           "requeued": requeued, "sent_batches": up.stats["batches"], "accepted": up.stats["accepted"],
           "duplicate": up.stats["duplicate"], "roster_version": st["roster_version"], "error": st["last_error"]}
    _print(out, args.json)
    if result == "not_configured":
        return 2
    return 0 if result == "ok" else 1


def _print(out: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(out, ensure_ascii=False, indent=1))
        return
    for k, v in out.items():
        if k == "rejected_events":
            for r in v:
                print(f"  rejected {r['event_id']} ({r['nip']} {r['kind']} {r['local_time']}): {r['last_error']}")
            continue
        if k == "refused_templates":
            for r in v:
                print(f"  refused template {r['uid']} of {r['nip']}: {r['reason']}")
            continue
        print(f"{k}: {v if v is not None else '-'}")
