"""Offline knowledge appliance: documents in kb/ → cited answers on a local page."""
