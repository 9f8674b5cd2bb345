"""The harness the demo, the tests and the benchmarks share: a real Milvus server and a real Airflow
on this machine, started on free loopback ports and stopped by process group.

It is not part of the provider's wheel: users import operators, sensors, triggers and the hook;
starting a Milvus binary and an ``airflow standalone`` is this repository's business.
"""
