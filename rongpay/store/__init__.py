"""Storage: one SQLAlchemy Core schema on SQLite (embedded) or PostgreSQL (production).

Each capability keeps its tables in its own `store.py` and its migrations as its own Alembic
branch (branch label = capability name) in `rongpay/store/migrations/versions/`.
"""
