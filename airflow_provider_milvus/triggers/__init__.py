"""Triggers for Milvus."""
