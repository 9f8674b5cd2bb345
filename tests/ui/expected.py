"""What the Milvus connection form shows, in every Airflow UI."""

from __future__ import annotations

from airflow_provider_milvus.get_provider_info import get_provider_info

CONN_FIELDS = get_provider_info()["connection-types"][0]["conn-fields"]
# The standard fields, relabelled for Milvus: name -> (label, placeholder).
STANDARD_FIELDS = {
    "host": ("Host or URI", "localhost, or https://in01-xxx.api.gcp-us-west1.zillizcloud.com"),
    "port": ("Port", "19530"),
    "login": ("User", "root (leave empty without authentication)"),
    "password": ("Password", "Milvus"),
}
# Fields whose form offers an example of what to type.
WITH_EXAMPLES = ("db_name", "ca_pem_path", "server_pem_path", "client_pem_path", "client_key_path", "server_name")
