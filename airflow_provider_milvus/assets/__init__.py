"""Milvus collections as Airflow assets."""
