"""Sensors for Milvus."""
