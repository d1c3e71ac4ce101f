"""Seeing what the appliance does: JSON logs, the query history with feedback, metrics."""

from appliance.observe.history import QueryHistory
from appliance.observe.logs import JsonFormatter, setup_logging
from appliance.observe.metrics import Metrics
from appliance.observe.record import QueryRecord

__all__ = ["JsonFormatter", "Metrics", "QueryHistory", "QueryRecord", "setup_logging"]
