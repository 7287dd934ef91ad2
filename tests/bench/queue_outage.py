"""How long the collector's queue publish holds an upload when SQS does not answer.

An SQS stand-in accepts connections and never answers; the collector's queue client (the
collector role's stores, default settings) publishes a batch, and the time until it gives
the crashes up to `crashflow recover` is printed as JSON, with the connections it opened
(one per try: the queue sender's retries are the only ones). Needs no services.

    .venv/bin/python tests/bench/queue_outage.py
"""

from __future__ import annotations

import json
import socket
import threading
import time

from crashflow.settings import Settings
from crashflow.stores.errors import StoreUnavailable
from crashflow.stores.factory import Stores


def main() -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    accepted = []
    threading.Thread(target=lambda: [accepted.append(silent.accept()) for _ in iter(int, 1)], daemon=True).start()
    port = silent.getsockname()[1]

    settings = Settings(namespace="queueoutage", sqs_endpoint_url=f"http://127.0.0.1:{port}")
    queues = Stores.from_settings(settings, "collector").queues
    queues._urls["standard"] = f"http://127.0.0.1:{port}/queue/standard"  # no GetQueueUrl round trip
    start = time.monotonic()
    try:
        queues.publish_batch("standard", ["a", "b"])
        outcome = "published"
    except StoreUnavailable as error:
        outcome = f"gave up: {error}"[:200]
    print(json.dumps({
        "seconds_to_give_up": round(time.monotonic() - start, 2),
        "connections": len(accepted),
        "attempts": settings.collector_sqs_max_attempts,
        "seconds_per_try": settings.collector_sqs_connect_timeout + settings.collector_sqs_read_timeout,
        "outcome": outcome,
    }))


if __name__ == "__main__":
    main()
