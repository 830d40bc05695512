"""Data validation: content checks over landed batches, schema drift, and what a check result looks like."""
