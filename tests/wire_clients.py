"""The requests real crash and symbol clients send, made the way those clients make them.

Breakpad's tools and Crashpad's Linux transport drive libcurl; each function here makes the
same libcurl calls through pycurl (same options, same form API, same headers), so what
reaches the server is what the real tool sends. The facts come from the tools' sources:
- Breakpad ``src/common/linux/http_upload.cc`` (minidump_upload, sym_upload v1): curl_formadd
  with COPYNAME/COPYCONTENTS per parameter in std::map order, COPYNAME/FILE per file,
  ``Expect:`` removed, ``User-Agent: Breakpad/1.0 (Linux)``, CURLOPT_FAILONERROR;
- Breakpad ``src/common/linux/libcurl_wrapper.cc`` and ``symbol_collector_client.cc``
  (sym_upload v2): no user agent, ``Expect:`` removed, an empty POST for ``uploads:create``,
  a PUT of the file with CURLOPT_UPLOAD and no size (so chunked), the ``complete`` body
  written by string concatenation with ``Content-Type: application/son``, answers read with
  regular expressions;
- Crashpad ``util/net/http_multipart_builder.cc``, ``http_transport_libcurl.cc`` and
  ``handler/crash_report_upload_thread.cc``: form fields sorted by name, then the minidump as
  ``<report uuid>.dmp``, boundary ``---MultipartBoundary-<32 alphanumerics>---``, gzip,
  ``Transfer-Encoding: chunked``, ``Expect:`` removed, ``?product=&version=&guid=`` from the
  ``prod``/``ver``/``guid`` annotations;
- Firefox's crash reporter: the annotations as the file part ``name="extra";
  filename="extra.json"`` with ``Content-Type: application/json`` (libcurl's form API).
"""

from __future__ import annotations

import gzip
import io
import random
import re
import string
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pycurl

BREAKPAD_USER_AGENT = "Breakpad/1.0 (Linux)"
CRASHPAD_USER_AGENT = f"Crashpad/0.8.0 libcurl/{pycurl.version_info()[1]} Linux/6.1.0 (x86_64)"


@dataclass
class Reply:
    curl_ok: bool  # curl_easy_perform returned CURLE_OK
    status: int
    body: str


def _form_post(curl: pycurl.Curl, form: list) -> None:
    """CURLOPT_HTTPPOST: curl_formadd's form, which these clients use (pycurl calls it
    deprecated in favour of the mime API; the bytes are libcurl's either way)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        curl.setopt(pycurl.HTTPPOST, form)


def _perform(curl: pycurl.Curl) -> Reply:
    body = io.BytesIO()
    curl.setopt(pycurl.WRITEDATA, body)
    try:
        curl.perform()
        ok = True
    except pycurl.error:
        ok = False
    status = curl.getinfo(pycurl.RESPONSE_CODE)
    curl.close()
    return Reply(ok, status, body.getvalue().decode("utf-8", errors="replace"))


def breakpad_http_upload(url: str, parameters: dict[str, str], files: dict[str, Path]) -> Reply:
    """``HTTPUpload::SendRequest``: what minidump_upload and sym_upload v1 send."""
    curl = pycurl.Curl()
    curl.setopt(pycurl.URL, url)
    curl.setopt(pycurl.USERAGENT, BREAKPAD_USER_AGENT)
    curl.setopt(pycurl.NOSIGNAL, 1)
    form = [(name, parameters[name]) for name in sorted(parameters)]
    form += [(name, (pycurl.FORM_FILE, str(files[name]))) for name in sorted(files)]
    _form_post(curl, form)
    curl.setopt(pycurl.HTTPHEADER, ["Expect:"])
    curl.setopt(pycurl.FAILONERROR, 1)
    return _perform(curl)


def minidump_upload(url: str, dump: Path, product: str, version: str) -> Reply:
    """Breakpad's ``minidump_upload -p PRODUCT -v VERSION DUMP URL``."""
    return breakpad_http_upload(url, {"prod": product, "ver": version}, {"upload_file_minidump": dump})


def module_line(sym: Path) -> list[str]:
    """``MODULE <os> <cpu> <id> <name>`` split as sym_upload does."""
    return sym.read_bytes().split(b"\n", 1)[0].decode().split(" ")


def sym_upload_v1(url: str, sym: Path) -> tuple[bool, Reply]:
    """``sym_upload FILE URL``; success as the tool reports it: only a 200 is a success."""
    _, os_name, cpu, debug_id, debug_file = module_line(sym)
    parameters = {"os": os_name, "cpu": cpu, "debug_file": debug_file, "code_file": debug_file,
                  "debug_identifier": debug_id.replace("-", "")}
    reply = breakpad_http_upload(url, parameters, {"symbol_file": sym})
    return reply.curl_ok and reply.status == 200, reply


def _libcurl_wrapper_call(url: str, method: str, body: bytes | None = None, content_type: str = "",
                          upload: Path | None = None) -> Reply:
    """``LibcurlWrapper``'s SendGetRequest / SendSimplePostRequest / SendPutRequest."""
    curl = pycurl.Curl()
    headers = []
    if method == "GET":
        curl.setopt(pycurl.HTTPGET, 1)
    elif method == "POST":
        curl.setopt(pycurl.POSTFIELDSIZE, len(body or b""))
        curl.setopt(pycurl.COPYPOSTFIELDS, body or b"")
        if content_type:
            headers.append(f"Content-Type: {content_type}")
    elif method == "PUT":
        handle = upload.open("rb")
        curl.setopt(pycurl.UPLOAD, 1)
        curl.setopt(pycurl.PUT, 1)
        curl.setopt(pycurl.READDATA, handle)
    curl.setopt(pycurl.URL, url)
    curl.setopt(pycurl.HTTPHEADER, [*headers, "Expect:"])
    try:
        return _perform(curl)
    finally:
        if method == "PUT":
            handle.close()


@dataclass
class V2Outcome:
    success: bool
    message: str  # what the tool prints last
    calls: list[tuple[str, int]]  # (call, HTTP status) in order


def sym_upload_v2(base_url: str, key: str, sym: Path, force: bool = False) -> V2Outcome:
    """``sym_upload -p sym-upload-v2 -k KEY [-f] FILE URL`` (``SymUploadV2Start``)."""
    _, _, _, debug_id, code_file = module_line(sym)
    debug_id = debug_id.replace("-", "")
    suffix = f"?key={key}" if key else ""
    calls = []

    def match(expression: str, text: str) -> str | None:
        found = re.search(expression, text)
        return found.group(1) if found else None

    if not force:
        reply = _libcurl_wrapper_call(f"{base_url}/v1/symbols/{code_file}/{debug_id}:checkStatus{suffix}", "GET")
        calls.append(("checkStatus", reply.status))
        status = match(r'"status": "([^"]+)"', reply.body) if reply.curl_ok else None
        if status is None:
            return V2Outcome(False, "Failed to check for existing symbol.", calls)
        if status == "FOUND":
            return V2Outcome(True, 'Symbol file already exists, upload aborted. Use "-f" to overwrite.', calls)

    reply = _libcurl_wrapper_call(f"{base_url}/v1/uploads:create{suffix}", "POST", b"")
    calls.append(("create", reply.status))
    upload_url = match(r'"uploadUrl": "([^"]+)"', reply.body)
    upload_key = match(r'"uploadKey": "([^"]+)"', reply.body)
    if not reply.curl_ok or upload_url is None or upload_key is None:
        return V2Outcome(False, "Failed to create upload URL.", calls)

    reply = _libcurl_wrapper_call(upload_url, "PUT", upload=sym)
    calls.append(("put", reply.status))
    if not reply.curl_ok or reply.status != 200:
        return V2Outcome(False, f"Failed to send symbol file: Response code {reply.status}", calls)

    body = ('{ symbol_id: {debug_file: "' + code_file + '", debug_id: "' + debug_id
            + '" }, symbol_upload_type: "BREAKPAD" }').encode()
    reply = _libcurl_wrapper_call(f"{base_url}/v1/uploads/{upload_key}:complete{suffix}", "POST", body,
                                  "application/son")
    calls.append(("complete", reply.status))
    result = match(r'"result": "([^"]+)"', reply.body) if reply.curl_ok else None
    if result is None:
        return V2Outcome(False, "Failed to complete upload.", calls)
    if result == "DUPLICATE_DATA":
        return V2Outcome(True, "Uploaded file checksum matched existing file checksum, no change necessary.", calls)
    return V2Outcome(True, "Successfully sent the symbol file.", calls)


def crashpad_boundary() -> str:
    alphabet = string.digits + string.ascii_uppercase + string.ascii_lowercase
    return "---MultipartBoundary-" + "".join(random.choice(alphabet) for _ in range(32)) + "---"


def crashpad_body(annotations: dict[str, str], dump: bytes, report_uuid: str, boundary: str,
                  attachments: dict[str, bytes] | None = None) -> bytes:
    """``HTTPMultipartBuilder``'s body: form data sorted by key, then the file attachments
    (attachments, then the minidump), the closing boundary."""
    out = b""
    for key in sorted(annotations):
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'.encode()
        out += annotations[key].encode() + b"\r\n"
    files = {**{name: (name, data) for name, data in (attachments or {}).items()},
             "upload_file_minidump": (f"{report_uuid}.dmp", dump)}
    for key in sorted(files):
        filename, data = files[key]
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"; filename="{filename}"\r\n'
                f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def crashpad_upload(url: str, annotations: dict[str, str], dump: bytes, report_uuid: str,
                    attachments: dict[str, bytes] | None = None) -> Reply:
    """The Crashpad handler's upload through its libcurl transport: gzip, chunked, and the
    client named in the URL from its ``prod``/``ver``/``guid`` annotations."""
    boundary = crashpad_boundary()
    body = gzip.compress(crashpad_body(annotations, dump, report_uuid, boundary, attachments))
    for annotation, field in (("prod", "product"), ("ver", "version"), ("guid", "guid")):
        if annotation in annotations:
            url += f"{'&' if '?' in url else '?'}{field}={quote(annotations[annotation], safe='')}"
    curl = pycurl.Curl()
    curl.setopt(pycurl.USERAGENT, CRASHPAD_USER_AGENT)
    curl.setopt(pycurl.ACCEPT_ENCODING, "")
    curl.setopt(pycurl.URL, url)
    curl.setopt(pycurl.POST, 1)
    curl.setopt(pycurl.HTTPHEADER, [
        f"Content-Type: multipart/form-data; boundary={boundary}", "Content-Encoding: gzip",
        "Expect:", "Transfer-Encoding: chunked",
    ])
    stream = io.BytesIO(body)
    # The transport hands libcurl the body through a read callback, in pieces.
    curl.setopt(pycurl.READFUNCTION, lambda size: stream.read(min(size, 32 * 1024)))
    return _perform(curl)


def firefox_upload(url: str, extra: Path, dumps: dict[str, Path], user_agent: str = "") -> Reply:
    """Firefox's crash reporter: ``extra.json`` as an application/json file part named
    ``extra``, then each minidump as a file part (libcurl's form API)."""
    curl = pycurl.Curl()
    curl.setopt(pycurl.URL, url)
    if user_agent:
        curl.setopt(pycurl.USERAGENT, user_agent)
    form = [("extra", (pycurl.FORM_FILE, str(extra), pycurl.FORM_FILENAME, "extra.json",
                       pycurl.FORM_CONTENTTYPE, "application/json"))]
    form += [(name, (pycurl.FORM_FILE, str(path), pycurl.FORM_CONTENTTYPE, "application/octet-stream"))
             for name, path in dumps.items()]
    _form_post(curl, form)
    return _perform(curl)
