"""Operators for Milvus."""
