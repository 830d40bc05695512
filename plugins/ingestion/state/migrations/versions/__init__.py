"""One file per schema revision of the control database, oldest first; Alembic reads them by path."""
