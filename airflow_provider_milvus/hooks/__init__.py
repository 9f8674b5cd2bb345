"""Hooks for Milvus."""
