"""The aggregation job names, in the order ``all`` runs them (later jobs read what earlier
ones wrote: explosiveness reads top crashers). Kept free of imports so that settings can
validate schedules against it."""

JOB_NAMES = (
    "partitions",
    "crashes_per_day",
    "top_crashers",
    "signatures",
    "explosiveness",
    "correlations",
    "bug_associations",
    "retention",
)
