"""Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

from airflow_provider_milvus import __version__


def _field(label: str, description: str, schema: dict[str, Any], examples: list[str] | None = None) -> dict[str, Any]:
    # Airflow 3's form shows no placeholder for extra fields; it offers a field's schema examples as
    # suggestions instead; the description spells the first one out.
    if examples:
        schema = {**schema, "examples": examples}
        description = f"{description} For example: {examples[0]}"
    return {"label": label, "description": description, "schema": schema}


# The connection form's extra fields, declared once: Airflow 3.2+ reads them from the provider info
# ("conn-fields"); older Airflow UIs get the same fields from MilvusHook.get_connection_form_widgets.
CONN_FIELDS: dict[str, dict[str, Any]] = {
    "token": _field(
        "Token",
        "Zilliz Cloud API key, or 'user:password'. Used instead of User/Password when set.",
        {"type": ["string", "null"], "format": "password"},
    ),
    "db_name": _field(
        "Database",
        "Database to use; empty for 'default'.",
        {"type": ["string", "null"]},
        ["default"],
    ),
    "secure": _field(
        "Use TLS",
        "Connect with TLS. Implied by an https:// host or any certificate path below.",
        {"type": ["boolean", "null"], "default": False},
    ),
    "ca_pem_path": _field(
        "CA certificate path",
        "PEM file of the CA that signed the server certificate (one-way or mutual TLS).",
        {"type": ["string", "null"]},
        ["/etc/milvus/tls/ca.pem"],
    ),
    "server_pem_path": _field(
        "Server certificate path",
        "PEM file of the server certificate itself, trusted directly (one-way TLS).",
        {"type": ["string", "null"]},
        ["/etc/milvus/tls/server.pem"],
    ),
    "client_pem_path": _field(
        "Client certificate path",
        "PEM file of this client's certificate (mutual TLS).",
        {"type": ["string", "null"]},
        ["/etc/milvus/tls/client.pem"],
    ),
    "client_key_path": _field(
        "Client key path",
        "PEM file of this client's private key (mutual TLS).",
        {"type": ["string", "null"]},
        ["/etc/milvus/tls/client.key"],
    ),
    "server_name": _field(
        "TLS server name",
        "Name to verify in the server certificate, when it differs from the host.",
        {"type": ["string", "null"]},
        ["milvus.example.com"],
    ),
    "timeout": _field(
        "RPC timeout (seconds)",
        "Default time allowed for each Milvus call, e.g. 30; operators can override it.",
        {"type": ["number", "null"]},
    ),
    "bucket_name": _field(
        "Storage bucket",
        "The MinIO/S3 bucket Milvus keeps its data in (its minio.bucketName), where it reads import files.",
        {"type": ["string", "null"]},
        ["a-bucket"],
    ),
    "storage_endpoint": _field(
        "Storage endpoint",
        "URL of that MinIO/S3 service, for writing import files (MilvusBulkWriteOperator).",
        {"type": ["string", "null"]},
        ["http://minio:9000"],
    ),
    "storage_access_key": _field(
        "Storage access key",
        "Access key for writing import files to the bucket; or pass aws_conn_id to the operator.",
        {"type": ["string", "null"], "format": "password"},
    ),
    "storage_secret_key": _field(
        "Storage secret key",
        "Secret key for writing import files to the bucket.",
        {"type": ["string", "null"], "format": "password"},
    ),
    "cluster_id": _field(
        "Zilliz Cloud cluster ID",
        "The cluster Zilliz Cloud's import API names; read from a Zilliz Cloud host when empty.",
        {"type": ["string", "null"]},
        ["in01-0123456789abcdef"],
    ),
    "cloud_api_endpoint": _field(
        "Zilliz Cloud API endpoint",
        "Zilliz Cloud's import API; empty for the one of the host's region.",
        {"type": ["string", "null"]},
        ["https://api.cloud.zilliz.com"],
    ),
}

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "extra"],
    # Port and Password too: Airflow 3.0/3.1 title an unrelabelled standard field by its name.
    "relabeling": {"host": "Host or URI", "login": "User", "port": "Port", "password": "Password"},
    "placeholders": {
        "host": "localhost, or https://in01-xxx.api.gcp-us-west1.zillizcloud.com",
        "port": "19530",
        "login": "root (leave empty without authentication)",
        "password": "Milvus",
    },
}


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-milvus",
        "name": "Milvus",
        "description": (
            "`Milvus <https://milvus.io/>`__ vector database: collections, ingest and bulk insert, flush, "
            "index and load waits that defer to the triggerer, and alias swaps."
        ),
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Milvus",
                "external-doc-url": "https://milvus.io/docs",
                # Paths from the root of the provider's repository, as first-party providers list theirs.
                "how-to-guide": [
                    "/docs/operators/create-collection.md",
                    "/docs/operators/ingest.md",
                    "/docs/operators/bulk-write.md",
                    "/docs/operators/bulk-insert.md",
                    "/docs/operators/flush.md",
                    "/docs/operators/index-and-load.md",
                    "/docs/operators/alias.md",
                    "/docs/assets.md",
                ],
                "tags": ["software"],
            }
        ],
        "hooks": [{"integration-name": "Milvus", "python-modules": ["airflow_provider_milvus.hooks.milvus"]}],
        "operators": [{"integration-name": "Milvus", "python-modules": ["airflow_provider_milvus.operators.milvus"]}],
        "sensors": [{"integration-name": "Milvus", "python-modules": ["airflow_provider_milvus.sensors.milvus"]}],
        "triggers": [{"integration-name": "Milvus", "python-modules": ["airflow_provider_milvus.triggers.milvus"]}],
        # A collection as an asset (Airflow 3) or dataset (Airflow 2): milvus://host:port/db/collection.
        "asset-uris": [{"schemes": ["milvus"], "handler": "airflow_provider_milvus.assets.milvus.sanitize_uri"}],
        "dataset-uris": [{"schemes": ["milvus"], "handler": "airflow_provider_milvus.assets.milvus.sanitize_uri"}],
        "connection-types": [
            {
                "connection-type": "milvus",
                "hook-class-name": "airflow_provider_milvus.hooks.milvus.MilvusHook",
                "hook-name": "Milvus",
                "conn-fields": CONN_FIELDS,
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
            }
        ],
    }
