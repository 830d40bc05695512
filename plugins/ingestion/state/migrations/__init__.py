"""Alembic migrations of the control database, run through ingestion.state.schema (no alembic.ini)."""
