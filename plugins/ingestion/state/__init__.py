"""The control database: watermarks, their history, and a record per entity run (SQLAlchemy Core)."""
