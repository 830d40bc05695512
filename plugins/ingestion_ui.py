"""The Airflow plugin of the Ingestion view: an app mounted by the api-server at /ingestion (behind Airflow's auth:
see ingestion/ui/app.py) and an "Ingestion" entry at the top of the UI's navigation that shows it.

Airflow imports every .py file of the plugins folder as a top-level module; this one only names what to mount, so
the components that are not the api-server import nothing more."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from ingestion.ui.asgi import IngestionApp

MOUNT = "/ingestion"  # ingestion.ui.app.MOUNT, not imported: that module pulls in FastAPI and Jinja


class IngestionUIPlugin(AirflowPlugin):
    name = "ingestion_ui"
    fastapi_apps = [{"app": IngestionApp(), "url_prefix": MOUNT, "name": "Ingestion"}]
    external_views = [
        {
            "name": "Ingestion",
            "href": f"{MOUNT}/",
            "url_route": "ingestion",
            "destination": "nav",
            "nav_top_level": True,
        }
    ]
