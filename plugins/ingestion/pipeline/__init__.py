"""The stage bodies the operators call: plain functions of an entity plan and the run, testable without Airflow."""
