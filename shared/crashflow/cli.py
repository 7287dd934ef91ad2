"""The operator's command line: ``crashflow --help``."""

from __future__ import annotations

import datetime as dt
import gzip
import logging
import signal
import sys
import threading
from pathlib import Path

import click
import requests

from crashflow.settings import get_settings


@click.group()
def main() -> None:
    """crashflow: collect, process, aggregate and query crash reports."""


def _stores(role: str = "cli"):
    """The stores a command uses (imported here: ``crashflow --help`` stays quick)."""
    from crashflow.stores.factory import Stores

    return Stores.from_settings(get_settings(), role)


def _annotation(value: str) -> tuple[str, str]:
    key, sep, item = value.partition("=")
    if not sep or not key:
        raise click.BadParameter(f"{value!r} is not KEY=VALUE")
    return key, item


@main.command()
@click.argument("dump", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--annotation", "-a", "annotations", multiple=True, help="KEY=VALUE, repeatable.")
@click.option("--url", default=None, help="Collector submit URL (default: the local collect function).")
@click.option("--gzip", "use_gzip", is_flag=True, help="Send the body gzip-compressed, as Crashpad does.")
def submit(dump: Path, annotations: tuple[str, ...], url: str | None, use_gzip: bool) -> None:
    """Upload DUMP as a crash report and print the CrashID."""
    settings = get_settings()
    url = url or f"http://127.0.0.1:{settings.collect_port}/submit"
    fields = dict(_annotation(a) for a in annotations)
    fields.setdefault("ProductName", "Test")
    fields.setdefault("Version", "1.0")
    prepared = requests.Request(
        "POST", url, data=fields,
        files={"upload_file_minidump": (dump.name, dump.read_bytes(), "application/octet-stream")},
    ).prepare()
    if use_gzip:
        prepared.body = gzip.compress(prepared.body)
        prepared.headers["Content-Encoding"] = "gzip"
        prepared.headers["Content-Length"] = str(len(prepared.body))
    answer = requests.Session().send(prepared, timeout=60)
    text = answer.text.strip()
    if answer.status_code != 200 or not text.startswith("CrashID="):
        raise click.ClickException(f"collector answered {answer.status_code}: {text}")
    click.echo(text)


@main.group()
def symbols() -> None:
    """Breakpad symbol files."""


@symbols.command("upload")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--url", default=None,
              help="Upload URL (default: the local collect function's /symbols/upload, or its "
                   "/symbols base URL with --protocol sym-upload-v2).")
@click.option("--token", envvar="CRASHFLOW_AUTH_TOKEN", required=True,
              help="API token with upload_symbols (or CRASHFLOW_AUTH_TOKEN).")
@click.option("--protocol", type=click.Choice(["crashflow", "sym-upload-v2"]), default="crashflow", show_default=True,
              help="crashflow: one request with a .sym file or a zip; sym-upload-v2: Breakpad's protocol, "
                   "one .sym file at a time, skipping those the server has.")
@click.option("--force", is_flag=True, help="sym-upload-v2: upload even the files the server has.")
def symbols_upload(path: Path, url: str | None, token: str, protocol: str, force: bool) -> None:
    """Upload PATH: a .sym file, a zip of <debug_file>/<DEBUG_ID>/<name>.sym files, or a
    directory laid out that way (zipped on the fly)."""
    import tempfile
    import zipfile

    port = get_settings().collect_port
    if protocol == "sym-upload-v2":
        _upload_sym_upload_v2(path, url or f"http://127.0.0.1:{port}/symbols", token, force)
        return
    url = url or f"http://127.0.0.1:{port}/symbols/upload"
    if path.is_dir():
        upload = tempfile.TemporaryFile()  # symbol trees can be large: zipped on disk
        with zipfile.ZipFile(upload, "w", zipfile.ZIP_DEFLATED) as archive:
            for sym in sorted(path.rglob("*.sym")):
                archive.write(sym, sym.relative_to(path).as_posix())
        upload.seek(0)
        name = f"{path.name or 'symbols'}.zip"
    else:
        upload, name = path.open("rb"), path.name
    with upload:
        answer = requests.post(url, headers={"Auth-Token": token}, files={"symbols": (name, upload)}, timeout=600)
    if answer.status_code not in (200, 201):
        raise click.ClickException(f"upload refused ({answer.status_code}): {_error_message(answer)}")
    for item in answer.json():
        click.echo(f"{item['key']} ({item['size']} bytes)")


def _error_message(answer: requests.Response) -> str:
    try:
        return answer.json()["error"]
    except (ValueError, KeyError, TypeError):
        return answer.text.strip()


def _upload_sym_upload_v2(path: Path, base_url: str, token: str, force: bool) -> None:
    """Each .sym file of PATH through sym-upload-v2: checkStatus, create, PUT, complete."""
    from crashflow.collector.symbols_upload import MODULE_LINE_BYTES, SymbolUploadRefused, parse_module_line

    files = sorted(path.rglob("*.sym")) if path.is_dir() else [path]
    if not files:
        raise click.ClickException(f"no .sym file in {path}")
    base_url, params = base_url.rstrip("/"), {"key": token}

    def call(method: str, url: str, **kwargs) -> requests.Response:
        answer = requests.request(method, url, timeout=600, **kwargs)
        if answer.status_code != 200:
            raise click.ClickException(f"{method} {url.split('?')[0]} refused ({answer.status_code}): {_error_message(answer)}")
        return answer

    for sym in files:
        with sym.open("rb") as file:
            try:
                module = parse_module_line(file.read(MODULE_LINE_BYTES), str(sym))
            except SymbolUploadRefused as error:
                raise click.ClickException(str(error)) from None
            where = f"{module.debug_file}/{module.debug_id}"
            status = call("GET", f"{base_url}/v1/symbols/{where}:checkStatus", params=params).json()["status"]
            if status == "FOUND" and not force:
                click.echo(f"{module.key}: the server has it")
                continue
            created = call("POST", f"{base_url}/v1/uploads:create", params=params).json()
            file.seek(0)
            call("PUT", created["uploadUrl"], data=file)
            body = {"symbol_id": {"debug_file": module.debug_file, "debug_id": module.debug_id},
                    "symbol_upload_type": "BREAKPAD"}
            result = call("POST", f"{base_url}/v1/uploads/{created['uploadKey']}:complete", params=params,
                          json=body).json()["result"]
        click.echo(f"{module.key}: {result}")


@symbols.command("missing")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), required=True, help="The day (UTC).")
@click.option("--product", default=None, help="Only this product's crashes.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV with a header row, for a build team's scripts.")
def symbols_missing(day, product: str | None, as_csv: bool) -> None:
    """The modules the day's crashes had no symbols for and nobody has uploaded since:
    debug file, debug id, code file, code id, crash count (most crashes first)."""
    import csv
    import dataclasses

    from crashflow.stores.interfaces import MissingSymbol

    report = _stores().symbol_uploads.missing_symbols(day.date(), product)
    rows = [dataclasses.astuple(line) for line in report]
    if as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow([field.name for field in dataclasses.fields(MissingSymbol)])
        writer.writerows(rows)
        return
    for row in rows:
        click.echo("\t".join(str(value) for value in row))


@main.command()
def setup() -> None:
    """Create buckets, queues, HBase tables and the Postgres schema (idempotent)."""
    from crashflow.provision import provision

    settings = get_settings()
    provision(settings)
    click.echo(f"namespace {settings.namespace}: buckets, queues, HBase tables and schema ready")


@main.command()
@click.option("--target", envvar="FUNCTION_TARGET", required=True,
              type=click.Choice(["collect", "process", "aggregate", "query"]), help="The function (or FUNCTION_TARGET).")
@click.option("--source", envvar="FUNCTION_SOURCE", default=None,
              help="Its main.py (or FUNCTION_SOURCE; default functions/TARGET/main.py).")
@click.option("--host", envvar="HOST", default="0.0.0.0", show_default=True)
@click.option("--port", envvar="PORT", type=int, default=8080, show_default=True, help="Or PORT, as Knative sets it.")
@click.option("--control-socket", type=click.Path(dir_okay=False), default=None,
              help="gunicorn's control socket (default: none).")
@click.option("--metrics-dir", envvar="PROMETHEUS_MULTIPROC_DIR", type=click.Path(file_okay=False), default=None,
              help="prometheus_client's multiprocess directory, emptied at start (default: a new temporary one).")
def serve(target: str, source: str | None, host: str, port: int, control_socket: str | None,
          metrics_dir: str | None) -> None:
    """Serve one function under functions-framework's gunicorn, with /metrics."""
    from crashflow.serving import serve as serve_function

    serve_function(target, source or f"functions/{target}/main.py", host, port, control_socket, metrics_dir)


@main.command()
@click.option("--workers", default=2, show_default=True, help="Messages delivered at once.")
def relay(workers: int) -> None:
    """Run the relay: the crash queues -> process (the queue trigger, locally and on Knative),
    and, unless CRASHFLOW_SCHEDULES is {}, the aggregation schedules -> aggregate; its metrics
    on relay_metrics_host:relay_metrics_port (/metrics)."""
    from prometheus_client import REGISTRY, start_http_server

    from crashflow.logs import setup_logging
    from crashflow.metrics import OwnMetrics
    from crashflow.relay import Relay

    setup_logging()
    settings = get_settings()
    if settings.relay_metrics_port:
        try:
            start_http_server(settings.relay_metrics_port, addr=settings.relay_metrics_host,
                              registry=OwnMetrics(REGISTRY, "relay"))
        except OSError as error:  # relaying matters more than its metrics
            logging.getLogger("crashflow.relay").error(
                "no metrics: cannot listen on %s:%s (%s)", settings.relay_metrics_host, settings.relay_metrics_port, error)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    Relay(get_settings(), workers=workers).run(stop)


@main.group()
def aggregate() -> None:
    """Aggregation jobs."""


@aggregate.command("run")
@click.argument("job")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="One day.")
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), help="First day of a range.")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), help="Last day of a range.")
def aggregate_run(job: str, day, start, end) -> None:
    """Run JOB (or ``all``) now, for a day, a range (backfill), or since its last success."""
    from crashflow.aggregation.runner import UnknownJob, run_jobs

    if day and (start or end):
        raise click.UsageError("give --date, or --from/--to, not both")
    first = (day or start).date() if (day or start) else None
    last = (day or end).date() if (day or end) else None
    if last and not first:
        raise click.UsageError("--to needs --from")
    try:
        runs = run_jobs(_stores("jobs"), job, first, last)
    except (UnknownJob, ValueError) as error:
        raise click.ClickException(str(error)) from None
    for run in runs:
        click.echo(f"{run.job} {run.start}..{run.end}: {run.status}, {run.rows_written} rows"
                   + (f" ({run.error})" if run.error else ""))
    if any(run.status == "error" for run in runs):
        sys.exit(1)


@aggregate.command("new-signatures")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), required=True, help="The day (UTC).")
def aggregate_new_signatures(day) -> None:
    """The signatures first seen on a day (from the signatures job), tab-separated:
    signature, first seen, first build."""
    from crashflow.aggregation.signatures import new_signatures

    with _stores().reports.connection() as connection:
        for signature, first_date, first_build in new_signatures(connection, day.date()):
            click.echo(f"{signature}\t{first_date:%Y-%m-%d %H:%M:%S}\t{first_build or ''}")


@aggregate.command("status")
def aggregate_status() -> None:
    """The latest run of every job, with its error."""
    from crashflow.aggregation import JOB_NAMES
    from crashflow.api.aggregates import latest_runs

    runs = latest_runs(_stores().reports)
    order = {name: index for index, name in enumerate(JOB_NAMES)}
    for run in sorted(runs, key=lambda run: order.get(run["job"], len(order))):
        click.echo(f"{run['job']} {run['window_start']}..{run['window_end']} started {run['started']:%Y-%m-%d %H:%M:%S}: "
                   f"{run['status']}, {run['rows_written']} rows"
                   + (f" ({run['error']})" if run["error"] else ""))


@main.group()
def alerts() -> None:
    """Spike alerts (rules: CRASHFLOW_ALERT_RULES)."""


@alerts.command("test")
@click.option("--rule", "rule_name", required=True, help="The rule whose webhooks get the sample.")
def alerts_test(rule_name: str) -> None:
    """Send a sample alert of RULE to its webhooks now (recorded, flagged as a sample)."""
    from crashflow.alerts import InvalidAlertRules, send_sample
    from crashflow.stores.postgres import Database

    settings = get_settings()
    try:
        with Database(settings, size=1).connection() as connection:
            results = send_sample(connection, settings, rule_name)
    except InvalidAlertRules as error:
        raise click.ClickException(str(error)) from None
    for result in results:
        detail = f" (HTTP {result['http_status']})" if result["http_status"] else ""
        click.echo(f"{result['webhook']}: {result['status']}{detail}" + (f": {result['error']}" if result["error"] else ""))
    if any(result["status"] != "delivered" for result in results):
        raise SystemExit(1)


@main.group()
def dlq() -> None:
    """The dead-letter queue."""


@dlq.command("redrive")
@click.option("--to", "kind", default="standard", show_default=True,
              type=click.Choice(["standard", "priority", "reprocessing"]))
def dlq_redrive(kind: str) -> None:
    """Move every dead letter back to a crash queue, once the fault is fixed."""
    from crashflow.stores.interfaces import DEAD_LETTER

    queues = _stores().queues
    moved = 0
    while messages := queues.receive(DEAD_LETTER, max_messages=10):
        for message in messages:
            queues.publish(kind, message.body)
            queues.delete(message)
            moved += 1
    click.echo(f"moved {moved} message(s) to {kind}")


@main.command()
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="Last submit day (default: today, UTC).")
@click.option("--days", type=click.IntRange(min=1), default=2, show_default=True,
              help="How many days, back from --date: the default 2 also covers a crash accepted just before midnight.")
def recover(day, days: int) -> None:
    """Queue again every crash of the last days that is stored in S3 but has no processed
    record (for example because the queue was down when it was collected)."""
    stores = _stores()
    last = (day or dt.datetime.now(dt.timezone.utc)).date()
    queued = 0
    for offset in range(days - 1, -1, -1):
        for crash_id in stores.crashes.unprocessed_crash_ids(last - dt.timedelta(days=offset)):
            stores.queues.publish("standard", crash_id)  # the message the collector could not send
            queued += 1
    first = last - dt.timedelta(days=days - 1)
    click.echo(f"queued {queued} unprocessed crash(es) from {first} to {last}")


@main.command()
@click.argument("document", type=click.Choice(["processed_crash", "raw_crash"]))
@click.option("--protected", "only", flag_value="protected", help="Only the fields that need view_pii.")
@click.option("--public", "only", flag_value="public", help="Only the fields anyone may see.")
def fields(document: str, only: str | None) -> None:
    """Every field of DOCUMENT the field definitions name, one a line: public or protected,
    who decided (socorro, crashflow or operator: this installation's
    CRASHFLOW_PUBLIC_ANNOTATIONS / CRASHFLOW_PROTECTED_FIELDS), the dotted path, and what it
    is. Fields no definition names are protected."""
    from crashflow.fields import FieldDefinitions

    for path, node, visible in getattr(FieldDefinitions.from_settings(get_settings()), document).walk():
        decision = "public" if visible else "protected"
        if only in (None, decision):
            summary = node.description.split("\n", 1)[0]
            click.echo(f"{decision}\t{node.origin}\t{path}\t{summary}")


@main.group()
def token() -> None:
    """API tokens (``Auth-Token`` header)."""


@token.command("create")
@click.option("--permission", "permissions", multiple=True, metavar="NAME",
              help="view_pii, view_rawdump, reprocess_crashes, run_custom_queries, upload_symbols, "
                   "view_symbols, manage_tokens (makes and revokes tokens in the web UI's /tokens/); "
                   "repeatable.")
@click.option("--expires-days", type=float, default=None, help="Expire after N days (default: never).")
@click.option("--note", default="", help="Who or what the token is for.")
def token_create(permissions: tuple[str, ...], expires_days: float | None, note: str) -> None:
    """Create a token and print it (it is shown only this once)."""
    from crashflow.tokens import TokenStore, UnknownPermission

    if expires_days is not None and expires_days <= 0:
        raise click.BadParameter("must be more than 0", param_hint="--expires-days")
    try:
        click.echo(TokenStore(_stores().reports).create(permissions, expires_days, note))
    except UnknownPermission as error:
        raise click.BadParameter(str(error), param_hint="--permission") from None


@token.command("revoke")
@click.argument("value", metavar="TOKEN")
def token_revoke(value: str) -> None:
    """Revoke TOKEN at once."""
    from crashflow.tokens import TokenStore

    if not TokenStore(_stores().reports).revoke(value):
        raise click.ClickException("no such live token")
    click.echo("revoked")


if __name__ == "__main__":  # pragma: no cover
    main()
