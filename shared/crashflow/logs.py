"""Logging set-up for the functions and the command line."""

import logging
import os


def setup_logging() -> None:
    logging.basicConfig(
        level=os.environ.get("CRASHFLOW_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
