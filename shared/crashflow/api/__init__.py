"""The Socorro-compatible crash API served by the query function."""
