"""Conformance: schemathesis against docs/protocol/openapi-v1.yaml and a running collector, on
SQLite and on PostgreSQL. Every check it has (no 5xx, status codes, content types, headers and
bodies as documented, schema-valid requests accepted, schema-violating ones refused, auth not
ignored, 405 with Allow for undocumented methods ...) must pass on every generated case.

One deliberate exception, configured below: POST /api/v1/events answers an event that breaks
the Event schema `rejected` inside a 200 (one bad event must not cost the rest of its batch),
so the "schema-violating request refused" check is off for that one operation.

Bounded: a fixed seed and 25 examples per operation and phase, about a minute per database.
`pytest -m conformance` runs only these; `pytest -m "not conformance"` skips them. A deeper run
before a release: KIOSK_CONFORMANCE_EXAMPLES=200 KIOSK_CONFORMANCE_SEED=7 pytest -m conformance.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from server_fixtures import Collector, database_url

OPENAPI = Path(__file__).resolve().parent.parent / "docs" / "protocol" / "openapi-v1.yaml"
ST = Path(sys.executable).parent / "st"
DEPTH = {"examples": int(os.environ.get("KIOSK_CONFORMANCE_EXAMPLES", "25")),
         "seed": int(os.environ.get("KIOSK_CONFORMANCE_SEED", "14"))}
CONFIG = """\
seed = {seed}
[generation]
max-examples = {examples}
[checks]
enabled = true
[auth.openapi.deviceToken]
bearer = "{token}"

[[operations]]
include-path = "/api/v1/events"
include-method = "POST"
# a bad event is rejected inside a 200 and its batch stored: by design
checks.negative_data_rejection.enabled = false
"""


@pytest.mark.conformance
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_schemathesis_finds_no_server_error_and_no_schema_violation(backend, tmp_path, request):
    c = Collector(database_url(request, backend, tmp_path))
    try:
        token = c.register("kiosk-conformance", "Dinas Kominfo")
        config = tmp_path / "schemathesis.toml"
        config.write_text(CONFIG.format(token=token, **DEPTH), encoding="utf-8")
        r = subprocess.run([str(ST), "--config-file", str(config), "--no-color", "run", str(OPENAPI), "--url", c.url,
                            "--workers", "1", "--report", "junit", "--report-dir", str(tmp_path / "report"),
                                # a connection reset in transit (seen once, in a CI run on a machine
                                # loaded by three other jobs; not reproduced since) is retried; a server
                                # error, a schema violation or a response that breaks every time
                                # still fails the run
                                "--request-retries", "2"],
                           capture_output=True, text=True, timeout=600, cwd=tmp_path)
    finally:
        c.stop()
    out = r.stdout + r.stderr
    summary = "\n".join(l for l in out.splitlines() if re.search(r"generated|passed|failed|issues found|Seed", l))
    print(f"schemathesis on {backend}:\n{summary}")
    assert r.returncode == 0, out[-8000:]
    assert re.search(r"(\d+) generated, \1 passed", out), summary
