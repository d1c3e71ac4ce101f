"""Seeing what the appliance does: JSON logs, the query history with feedback, metrics."""

from appliance.observe.history import QueryHistory
from appliance.observe.logs import JsonFormatter, setup_logging
from appliance.observe.metrics import Metrics

__all__ = ["JsonFormatter", "Metrics", "QueryHistory", "setup_logging"]
