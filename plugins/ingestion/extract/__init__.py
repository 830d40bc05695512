"""Extraction from sources: window computation (pure), SQL statements (SQLAlchemy Core), and the readers."""
