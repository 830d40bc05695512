"""Onboarding a source: `ingest test-connection` (connection_check) and `ingest scaffold` (scaffold)."""
