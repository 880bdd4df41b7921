"""Broker adapters: ``mock`` (deterministic), ``realish`` (faults) and ``ccxt`` (sandbox only)."""

from __future__ import annotations

from .mock import FillModel, MockBroker

__all__ = ["FillModel", "MockBroker"]
