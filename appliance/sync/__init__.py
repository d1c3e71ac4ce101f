"""Keeping the index equal to kb/: the manifest, the ingest pipeline, the worker and the watcher."""
