"""The collector server: kiosks upload their attendance events here, HR reads the dashboard.

FastAPI over SQLAlchemy (SQLite for one office, PostgreSQL for a whole regency), schema managed
by Alembic (server/migrations). Protocol: docs/protocol/openapi-v1.yaml. How to run it:
server/README.md.
"""

PROTOCOL_VERSION = "1"
