"""Utilities shared by the skmoe estimators."""
