"""The search index: chunk embeddings (dense + BM25 sparse) in Qdrant Edge, fused with RRF."""
