"""The Ingestion view in the Airflow UI: an overview of every source and entity, a page per entity, and the same as
JSON. Read-only, from the control database through state/overview.py (the queries `ingest status` uses)."""
