"""A small web UI over the crash API: report, search, signature and top-crashers pages."""
