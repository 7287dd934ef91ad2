"""Aggregation jobs: scheduled, idempotent per day, recorded in ``job_runs``."""
