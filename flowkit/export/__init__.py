"""Exporting a flow to another orchestrator: ``flowkit airflow create`` writes an Airflow DAG
whose tasks run flowkit's own task code on the flow's code package, so the run's records land
in flowkit's store as a local run's do (see :mod:`flowkit.export.airflow_dag`)."""
