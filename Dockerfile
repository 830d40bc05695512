# The platform's Airflow image: the official 3.3.2 image plus the pinned providers and the platform's code.
FROM apache/airflow:3.3.2-python3.11

USER root
# mysqlclient (MySQL provider) builds against these when no wheel fits.
RUN apt-get update \
 && apt-get install -y --no-install-recommends default-libmysqlclient-dev pkg-config build-essential \
 && rm -rf /var/lib/apt/lists/*
USER airflow

COPY --chown=airflow:root requirements.txt constraints.txt /opt/airflow/requirements/
RUN pip install --no-cache-dir -r /opt/airflow/requirements/requirements.txt \
      -c /opt/airflow/requirements/constraints.txt

COPY --chown=airflow:root dags /opt/airflow/dags
COPY --chown=airflow:root plugins /opt/airflow/plugins
COPY --chown=airflow:root include /opt/airflow/include
# The sample API, webhook sink and SMTP sink run from this image too (FastAPI and uvicorn come with Airflow,
# aiosmtpd from requirements.txt).
COPY --chown=airflow:root stack/__init__.py /opt/airflow/stack/__init__.py
COPY --chown=airflow:root stack/apps /opt/airflow/stack/apps
# /opt/airflow for the stack apps; plugins so `python -m ingestion validate` (the platform CLI) works in a container.
ENV PYTHONPATH=/opt/airflow:/opt/airflow/plugins
# The deployed Airflow checks every request against the FAB auth manager's roles: Admin, and one role per owning team
# (team_<team>) that `python -m ingestion access sync` writes from the configs after `airflow db migrate`
# (docs/deployment.md#access-per-team). `make airflow` on a workstation keeps Airflow's simple auth manager.
ENV AIRFLOW__CORE__AUTH_MANAGER=airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager
