"""Access per team: one Airflow role per owning team, derived from the source configs (`owners.team`).

`teams` works out, without Airflow, which role may work on which DAGs; `fab_roles` writes that into the FAB auth
manager's roles (`scripts/ingest access sync`).
"""
