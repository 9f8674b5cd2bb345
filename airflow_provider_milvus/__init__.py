"""Apache Airflow provider for the Milvus vector database."""

__version__ = "0.1.0"

DEFAULT_CONN_ID = "milvus_default"
DEFAULT_PORT = 19530
