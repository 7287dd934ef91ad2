"""One module per state store: S3 (raw crashes, dumps, symbols), SQS (crash queues),
HBase (crash records) and PostgreSQL (reports and aggregates)."""
