"""Supervision (layer 3): supervisors, strategies, restart intensity and backoff."""
