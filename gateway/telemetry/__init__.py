"""Metrics and logs: the bottom of the import graph, so every layer may report."""

from gateway.telemetry.facts import DecisionFacts
from gateway.telemetry.logs import configure_logging, log_decision
from gateway.telemetry.metrics import Metrics

__all__ = ["DecisionFacts", "Metrics", "configure_logging", "log_decision"]
