import io
import zipfile

import pytest

from conftest import DATA
from crashflow.collector.symbols_upload import (
    SymbolUpload, SymbolUploadRefused, check_member_path, parse_module_line,
)
from crashflow.stores.layout import sym_file_name

SYMBOLS = DATA / "symbols"
TEST_APP = "test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.sym"
NULL_READ = "null_read_av/7B7D1968FF0D47AE4366E9C3A7E1B6750/null_read_av.sym"


def zipped(members: dict[str, bytes]) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    buffer.seek(0)
    return buffer


def run(files, upload=None):
    stored = {}
    result = (upload or SymbolUpload(10**9, 10**9)).process(
        files, lambda key, stream: stored.__setitem__(key, stream.read())
    )
    return result, stored


def test_the_archive_is_closed_once_stored(monkeypatch):
    archive = zipped({TEST_APP: (SYMBOLS / TEST_APP).read_bytes()})
    opened = []
    real_init = zipfile.ZipFile.__init__

    def recording_init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        opened.append(self)  # held here, so that only an explicit close() closes it

    monkeypatch.setattr(zipfile.ZipFile, "__init__", recording_init)
    run([("symbols.zip", archive)])
    assert opened and all(zip_file.fp is None for zip_file in opened)


def test_zip_of_the_symbol_tree():
    members = {name: (SYMBOLS / name).read_bytes() for name in (TEST_APP, NULL_READ)}
    result, stored = run([("symbols.zip", zipped(members))])
    assert stored == members
    assert [item.to_json() for item in result] == [
        {"key": TEST_APP, "debug_file": "test_app.pdb", "debug_id": "5A9832E5287241C1838ED98914E9B7FF1",
         "os": "windows", "arch": "x86", "size": len(members[TEST_APP])},
        {"key": NULL_READ, "debug_file": "null_read_av", "debug_id": "7B7D1968FF0D47AE4366E9C3A7E1B6750",
         "os": "Linux", "arch": "x86_64", "size": len(members[NULL_READ])},
    ]


def test_directories_in_the_zip_are_skipped():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("test_app.pdb/", b"")
        archive.writestr(TEST_APP, (SYMBOLS / TEST_APP).read_bytes())
    buffer.seek(0)
    assert list(run([("s.zip", buffer)])[1]) == [TEST_APP]


def test_single_sym_file_goes_where_its_module_line_says():
    data = (SYMBOLS / TEST_APP).read_bytes()
    result, stored = run([("whatever.sym", io.BytesIO(data))])
    assert stored == {TEST_APP: data} and result[0].key == TEST_APP


@pytest.mark.parametrize("name", [
    "../test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.sym",
    "/abs/5A9832E5287241C1838ED98914E9B7FF1/test_app.sym",
    "test_app.pdb/../../test_app.sym",
    "test_app.pdb\\5A98\\test_app.sym",
    "C:/x/y.sym",
])
def test_zip_slip_paths_are_refused(name):
    with pytest.raises(SymbolUploadRefused, match="unsafe path"):
        run([("s.zip", zipped({name: (SYMBOLS / TEST_APP).read_bytes()}))])


@pytest.mark.parametrize("members, message", [
    ({TEST_APP: (SYMBOLS / TEST_APP).read_bytes(), "README.txt": b"hi"}, "not a .sym file"),
    ({"test_app.sym": (SYMBOLS / TEST_APP).read_bytes()}, "not laid out as"),
    ({"test_app.pdb/0000/test_app.sym": (SYMBOLS / TEST_APP).read_bytes()}, "belongs at"),
    ({"other.pdb/5A9832E5287241C1838ED98914E9B7FF1/other.sym": (SYMBOLS / TEST_APP).read_bytes()}, "belongs at"),
    ({TEST_APP: b"FILE 1 a.c\n"}, "does not start with 'MODULE"),
    ({TEST_APP: b"MODULE windows x86 NOTHEX test_app.pdb\n"}, "not hexadecimal"),
    ({}, "no .sym or .zip file"),
])
def test_invalid_members_are_refused_and_nothing_is_stored(members, message):
    stored = {}
    with pytest.raises(SymbolUploadRefused, match=message):
        SymbolUpload(10**9, 10**9).process(
            [("s.zip", zipped(members))], lambda key, stream, size: stored.__setitem__(key, stream.read())
        )
    assert stored == {}


def test_one_bad_file_among_good_ones_stores_nothing():
    good = ("good.sym", io.BytesIO((SYMBOLS / TEST_APP).read_bytes()))
    bad = ("bad.zip", zipped({"x/1/x.sym": b"MODULE Linux x86 2 x\n"}))
    stored = {}
    with pytest.raises(SymbolUploadRefused, match="belongs at 'x/2/x.sym'"):
        SymbolUpload(10**9, 10**9).process([good, bad], lambda key, stream, size: stored.__setitem__(key, 1))
    assert stored == {}


def test_oversized_archives_are_refused():
    members = {TEST_APP: (SYMBOLS / TEST_APP).read_bytes()}
    archive = zipped(members)
    with pytest.raises(SymbolUploadRefused, match="over the 100-byte limit"):
        run([("s.zip", archive)], SymbolUpload(100, 10**9))
    archive.seek(0)
    with pytest.raises(SymbolUploadRefused, match="unpacks to .* over the 1000-byte limit"):
        run([("s.zip", archive)], SymbolUpload(10**9, 1000))


def test_neither_zip_nor_sym_is_refused():
    with pytest.raises(SymbolUploadRefused, match="neither a .zip archive nor a .sym file"):
        run([("notes.txt", io.BytesIO(b"hello"))])


def test_module_line_parsing():
    module = parse_module_line(b"\xef\xbb\xbfMODULE mac x86_64 ABC123 Google Chrome Framework\r\nFILE", "x")
    assert module.debug_file == "Google Chrome Framework"
    assert module.key == "Google Chrome Framework/ABC123/Google Chrome Framework.sym"
    with pytest.raises(SymbolUploadRefused, match="cannot be a file name"):
        parse_module_line(b"MODULE Linux x86 AB ../evil\n", "x")
    with pytest.raises(SymbolUploadRefused, match="cannot be a file name"):
        parse_module_line(b"MODULE Linux x86 AB ..\n", "x")


def test_sym_file_names():
    assert sym_file_name("xul.pdb") == "xul.sym"
    assert sym_file_name("XUL.PDB") == "XUL.sym"
    assert sym_file_name("libxul.so") == "libxul.so.sym"
    assert check_member_path(TEST_APP) == ("test_app.pdb", "5A9832E5287241C1838ED98914E9B7FF1", "test_app.sym")


BREAKPAD_FIELDS = {"code_file": "null_read_av", "cpu": "x86_64", "debug_file": "null_read_av",
                   "debug_identifier": "7B7D1968FF0D47AE4366E9C3A7E1B6750", "os": "Linux"}


def test_sym_upload_v1_form_is_stored_where_its_module_line_says():
    data = (SYMBOLS / NULL_READ).read_bytes()
    stored = {}
    result = SymbolUpload(10**9, 10**9).process_breakpad_form(
        io.BytesIO(data), BREAKPAD_FIELDS, lambda key, stream: stored.__setitem__(key, stream.read()))
    assert stored == {NULL_READ: data} and [item.key for item in result] == [NULL_READ]


@pytest.mark.parametrize("change, message", [
    ({"debug_file": "other"}, "debug_file 'other' disagrees with the MODULE line's 'null_read_av'"),
    ({"debug_identifier": "0000"}, "debug_identifier '0000' disagrees"),
    ({"os": "windows"}, "os 'windows' disagrees"),
    ({"cpu": "arm64"}, "cpu 'arm64' disagrees"),
    ({"os": ""}, "without the form field(s) os"),
])
def test_sym_upload_v1_fields_must_agree_with_the_module_line(change, message):
    stored = {}
    with pytest.raises(SymbolUploadRefused, match=message.replace("(", r"\(").replace(")", r"\)")):
        SymbolUpload(10**9, 10**9).process_breakpad_form(
            io.BytesIO((SYMBOLS / NULL_READ).read_bytes()), {**BREAKPAD_FIELDS, **change},
            lambda key, stream: stored.__setitem__(key, stream.read()))
    assert stored == {}


def test_sym_upload_v1_debug_identifier_compares_as_breakpad_compacts_it():
    fields = {**BREAKPAD_FIELDS, "debug_identifier": "7b7d1968-ff0d-47ae-4366-e9c3a7e1b675-0"}
    result = SymbolUpload(10**9, 10**9).process_breakpad_form(
        io.BytesIO((SYMBOLS / NULL_READ).read_bytes()), fields, lambda key, stream: None)
    assert result[0].debug_id == "7B7D1968FF0D47AE4366E9C3A7E1B6750"
