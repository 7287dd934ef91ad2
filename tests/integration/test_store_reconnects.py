"""After a store restarts, the functions' pooled connections to it are dead: the next
request must reconnect, not fail. A TCP proxy in front of the real PostgreSQL and HBase
Thrift server plays the restart (it closes every connection, as a restarting server does),
so that the shared services themselves are left alone."""

from __future__ import annotations

import os
import socket
import threading

import pytest
import requests

from conftest import TEST_NAMESPACE, FunctionServer, free_port
from crashflow.stores.hbase import CrashTable
from crashflow.stores.postgres import Database

pytestmark = pytest.mark.integration


class Proxy:
    """Forwards 127.0.0.1:<port> to ``target``; ``restart()`` closes every connection."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                self.connections += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def restart(self) -> None:
        with self.lock:
            connections, self.connections = self.connections, []
        for sock in connections:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self) -> None:
        self.listener.close()
        self.restart()


@pytest.fixture
def proxies(stack):
    pg, thrift = Proxy(stack.pg_port), Proxy(stack.hbase_thrift_port)
    yield stack.model_copy(update={"pg_port": pg.port, "hbase_thrift_port": thrift.port}), pg, thrift
    pg.close()
    thrift.close()


def test_pooled_connections_reconnect_after_a_restart(proxies):
    settings, pg, thrift = proxies
    database, table = Database(settings), CrashTable(settings)
    crash_id = "de0a0000-aaaa-4bbb-8ccc-dddddd261130"
    for _ in range(3):
        with database.connection() as connection:
            assert connection.run("SELECT 1") == [[1]]
        assert table.get_processed_crash(crash_id) is None
        pg.restart()
        thrift.restart()


def test_query_answers_the_first_request_after_a_restart(proxies):
    settings, pg, thrift = proxies
    server = FunctionServer("query", free_port(), dict(
        os.environ, CRASHFLOW_NAMESPACE=TEST_NAMESPACE, CRASHFLOW_PG_PORT=str(settings.pg_port),
        CRASHFLOW_HBASE_THRIFT_PORT=str(settings.hbase_thrift_port), CRASHFLOW_PRIORITY_WAIT_SECONDS="1"))
    try:
        server.wait_ready()
        crash_id = "de0a0001-aaaa-4bbb-8ccc-dddddd261130"
        for _ in range(3):
            # HBase (the crash's record) and PostgreSQL (a search) each on a pooled connection.
            missing = requests.get(f"{server.url}/api/ProcessedCrash/", params={"crash_id": crash_id}, timeout=60)
            assert missing.status_code == 404, missing.text
            search = requests.get(f"{server.url}/api/SuperSearch/", params={"product": "Nope"}, timeout=60)
            assert search.status_code == 200, search.text
            pg.restart()
            thrift.restart()
    finally:
        server.stop()
