"""Retrieval-augmented generation: retrieve (dense, BM25, hybrid) → rerank → generate."""
