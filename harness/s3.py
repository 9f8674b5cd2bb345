"""An S3-protocol server on loopback, and the Milvus settings that make it Milvus's storage.

Production Milvus keeps its data, and reads bulk-insert files, in a MinIO or S3 bucket. Here that
bucket is served by moto's S3 server (the ``moto[server]`` package of the ``test`` extra), which
keeps everything in memory: a restart of it loses the bucket, a restart of Milvus does not.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from harness.processes import free_port, port_open, start_group, stop_group

# moto accepts any key pair; Milvus needs one to sign its requests.
ACCESS_KEY = "milvus-test-access-key"
SECRET_KEY = "milvus-test-secret-key"
REGION = "us-east-1"


class S3Server:
    """Starts and stops one moto S3 server on 127.0.0.1 by process group, with one bucket in it."""

    def __init__(self, log_dir: str | os.PathLike, bucket: str = "milvus-bucket", port: int | None = None) -> None:
        self.log_dir = Path(log_dir)
        self.bucket = bucket
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> S3Server:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        script = Path(sys.executable).parent / "moto_server"
        command = [str(script)] if script.exists() else [sys.executable, "-m", "moto.server"]
        self.process = start_group(
            [*command, "-H", "127.0.0.1", "-p", str(self.port)], self.log_dir / "s3-server.log", dict(os.environ)
        )
        deadline = time.monotonic() + 60
        while not port_open(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"The S3 server did not start; see {self.log_dir / 's3-server.log'}")
            time.sleep(0.2)
        # Milvus does not create its bucket: it must exist before Milvus starts.
        self.client().create_bucket(Bucket=self.bucket)
        return self

    def client(self) -> Any:
        """A boto3 S3 client of this server."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        )

    def keys(self, prefix: str = "") -> list[str]:
        """Every key in the bucket under ``prefix``."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def milvus_args(self, root_path: str = "files") -> list[str]:
        """``milvus-server`` flags that put Milvus's storage in this server's bucket under ``root_path``.

        (``--extra-config`` replaces keys of the milvus package's config template; it cannot add any.)
        """
        settings = {
            "common.storageType": "minio",
            "minio.address": "127.0.0.1",
            "minio.port": str(self.port),
            "minio.bucketName": self.bucket,
            "minio.accessKeyID": ACCESS_KEY,
            "minio.secretAccessKey": SECRET_KEY,
            "minio.useSSL": "false",
            "minio.rootPath": root_path,
        }
        return [arg for key, value in settings.items() for arg in ("--extra-config", f"{key}={value}")]

    def stop(self) -> None:
        if self.process is not None:
            stop_group(self.process)
            self.process = None

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
