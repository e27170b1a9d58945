"""Gating networks."""
