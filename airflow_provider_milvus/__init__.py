"""Apache Airflow provider for the Milvus vector database."""

__version__ = "0.1.0"
