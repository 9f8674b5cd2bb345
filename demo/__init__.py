"""The one-command demo: the example DAG through a real Airflow against an embedded Milvus."""
