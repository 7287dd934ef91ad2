"""The pure parts of late symbols: what a report row keeps, and the upload watcher."""

from crashflow.api.symbols import symbol_server_key
from crashflow.late_symbols import UploadWatcher, missing_modules, module_id


def test_missing_modules_keyed_by_symbol_file_identity():
    processed = {"json_dump": {"modules": [
        {"filename": "xul.dll", "debug_file": "c:\\builds\\xul.pdb", "debug_id": "AA01", "code_id": "5f00",
         "missing_symbols": True},
        {"filename": "app", "debug_file": "app", "debug_id": "BB02", "missing_symbols": False},
        {"filename": "evil", "debug_file": "..", "debug_id": "CC03", "missing_symbols": True},
    ]}}
    assert missing_modules(processed) == {
        "xul.pdb/AA01": {"debug_file": "xul.pdb", "debug_id": "AA01", "code_file": "xul.dll", "code_id": "5f00"},
    }
    assert missing_modules({"json_dump": {}}) is None and module_id("..", "AA") is None


class FakeUploads:
    def __init__(self):
        self.rows: list[str] = []
        self.fail = False

    def since(self, last_id):
        if self.fail:
            raise OSError("postgres down")
        if last_id is None:
            return len(self.rows), []
        return len(self.rows), self.rows[last_id:]


def test_the_watcher_forgets_what_was_uploaded_since_it_last_looked(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr("crashflow.late_symbols.time.monotonic", lambda: clock[0])
    uploads, forgotten = FakeUploads(), []
    uploads.rows.append("old/01/old.sym")
    watcher = UploadWatcher(uploads, forgotten.append, interval=2)
    assert watcher.poll() == 0  # starts from the latest record: nothing before it matters
    uploads.rows += ["a/0A/a.sym", "b/0B/b.sym"]
    clock[0] += 1
    assert watcher.poll() == 0 and forgotten == []  # not due yet: one query per interval
    clock[0] += 1.5
    assert watcher.poll() == 2 and forgotten == ["a/0A/a.sym", "b/0B/b.sym"]
    uploads.fail = True
    clock[0] += 3
    assert watcher.poll() == 0  # a store failure never stops processing
    uploads.fail = False
    uploads.rows.append("c/0C/c.sym")
    clock[0] += 3
    assert watcher.poll() == 1 and forgotten[-1] == "c/0C/c.sym"


def test_symbol_server_paths():
    assert symbol_server_key("xul.pdb/AA01/xul.sym") == "xul.pdb/AA01/xul.sym"
    assert symbol_server_key("libxul.so/AA01/libxul.so.sym") == "libxul.so/AA01/libxul.so.sym"
    for path in ("xul.pdb/AA01/xul.pdb", "../AA01/x.sym", "xul.pdb/AA-01/xul.sym", "xul.pdb/AA01", "a/b/c/d",
                 "x\x01/AA01/x\x01.sym"):
        assert symbol_server_key(path) is None, path
