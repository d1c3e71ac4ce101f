"""Reliability catalogue: many bad documents and bad requests against the real server."""
