"""``crashflow serve``: one function under functions-framework's gunicorn, as the image runs it.

functions-framework's own command line gives gunicorn no options. This one builds the same
app (``functions_framework.create_app``) and server, and adds what operating it needs:

- ``/metrics`` on every function, and request counts and latencies per endpoint, with
  prometheus_client in its multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, emptied at start:
  files left by an earlier run would be added to this one's);
- Dockerflow's ``/__lbheartbeat__``, ``/__heartbeat__`` and ``/__version__`` on a function
  whose own handler only takes POSTed CloudEvents (aggregate), when its module defines
  ``heartbeat()``: the others answer them in their handlers;
- gunicorn's control socket where it is asked for (locally, one per function under the
  state folder), and none otherwise: by default every gunicorn on a machine takes the same
  ``~/.gunicorn/gunicorn.ctl`` and the last one started wins it;
- as many gunicorn worker processes as the function's module asks (``GUNICORN_WORKERS``;
  query's ``CRASHFLOW_QUERY_WORKERS``), else functions-framework's one.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def prepare_metrics_dir(directory: str | None, target: str) -> Path:
    """Empty (or make) the multiprocess metrics directory and point prometheus_client at it.
    Must run before prometheus_client is imported: it reads the variable at import."""
    if "prometheus_client" in sys.modules:
        raise RuntimeError("prometheus_client was imported before its multiprocess directory was set")
    if directory:
        path = Path(directory)
    else:
        path = Path(tempfile.mkdtemp(prefix=f"crashflow-{target}-metrics-"))
        owner = os.getpid()  # not the forked workers, which run atexit handlers too
        atexit.register(lambda: os.getpid() == owner and shutil.rmtree(path, ignore_errors=True))
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    os.environ[MULTIPROC_VARIABLE] = str(path)
    return path


def gunicorn_options(control_socket: str | None, workers: int | None = None) -> dict:
    """What crashflow adds to functions-framework's gunicorn options."""
    from prometheus_client import multiprocess

    def child_exit(server, worker):
        # A dead worker's live gauges stop counting (its counters and histograms stay).
        multiprocess.mark_process_dead(worker.pid)

    options: dict = {"child_exit": child_exit}
    if control_socket:
        Path(control_socket).parent.mkdir(parents=True, exist_ok=True)
        options["control_socket"] = str(control_socket)
    else:
        options["control_socket_disable"] = True
    if workers:
        options["workers"] = workers
    return options


def add_health_routes(app, heartbeat: Callable[[], dict[str, bool]]) -> None:
    """Answer Dockerflow's endpoints on ``app``: alive, each store's state (503 when one is
    down), and the deployed version."""
    import flask

    from crashflow.settings import get_settings
    from crashflow.version import version_info

    def lbheartbeat():
        return flask.jsonify({})

    def heartbeat_page():
        checks = heartbeat()
        return flask.jsonify(checks), 200 if all(checks.values()) else 503

    def version():
        return flask.jsonify(version_info(get_settings().version_file))

    for path, view in (("/__lbheartbeat__", lbheartbeat), ("/__heartbeat__", heartbeat_page),
                       ("/__version__", version)):
        app.add_url_rule(path, f"crashflow{path}", view, methods=["GET"])


def serve(target: str, source: str, host: str, port: int, control_socket: str | None, metrics_dir: str | None) -> None:
    prepare_metrics_dir(metrics_dir, target)

    import functions_framework
    from functions_framework._http import create_server

    from crashflow import metrics

    app = functions_framework.create_app(target, source)
    module = sys.modules.get(Path(source).stem)
    metrics.instrument_app(app, target, getattr(module, "request_endpoint", None))
    if hasattr(module, "heartbeat"):
        add_health_routes(app, module.heartbeat)
    options = gunicorn_options(control_socket, getattr(module, "GUNICORN_WORKERS", None))
    create_server(app, False, **options).run(host, port)
