"""Analyses built on the oracle velocity (pure functions returning tidy DataFrames)."""
