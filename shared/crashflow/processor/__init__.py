"""The processor: turns a raw crash and its dumps into a processed crash."""
