"""Deployments: the gates, the config diff, the bundle or Helm release, the post-deploy checks through Airflow's
REST API, rollback and the release record (scripts/deploy.sh runs `python -m ingestion.release.deploy`)."""
