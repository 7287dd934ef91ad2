"""A small client of Bugzilla's REST API: bugs whose crash signatures changed.

Bugs name crash signatures in ``cf_crash_signature`` as ``[@ signature ]`` tokens, one or
more per field (``[@ OOM | small ] [@ js::GCMarker::drain ]``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import requests
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

FIELDS = "id,cf_crash_signature,status,resolution,summary,last_change_time"


class BugzillaError(RuntimeError):
    """Bugzilla answered with something other than a list of bugs."""


@dataclass(frozen=True)
class Bug:
    id: int
    signatures: frozenset[str]
    status: str | None = None
    resolution: str | None = None
    summary: str | None = None
    last_change_time: dt.datetime | None = None


def find_signatures(field: str | None) -> frozenset[str]:
    """The signatures in a ``cf_crash_signature`` value. A signature may itself hold ``]``
    (``operator[]``): a token ends at the last ``]`` before the next ``[@``."""
    found = set()
    for part in (field or "").split("[@")[1:]:
        if "]" in part:
            signature = part.rsplit("]", 1)[0].strip()
            if signature:
                found.add(signature)
    return frozenset(found)


def _timestamp(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


class Bugzilla:
    """``GET <url>?...`` of a Bugzilla REST ``/rest/bug`` endpoint, page by page."""

    def __init__(self, url: str, api_key: str | None = None, page_size: int = 500, timeout: float = 60):
        self.url = url
        self.page_size = page_size
        self.timeout = timeout
        self.session = requests.Session()
        if api_key:
            self.session.headers["X-BUGZILLA-API-KEY"] = api_key

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Bugzilla:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @retry(
        retry=retry_if_exception_type((requests.ConnectionError, requests.Timeout)),
        stop=stop_after_attempt(4), wait=wait_exponential(multiplier=0.5, max=8), reraise=True,
    )
    def _page(self, params: dict) -> list[dict]:
        answer = self.session.get(self.url, params=params, timeout=self.timeout)
        if answer.status_code != 200:
            raise BugzillaError(f"Bugzilla answered {answer.status_code}: {answer.text[:200]}")
        try:
            bugs = answer.json()["bugs"]
        except (ValueError, KeyError, TypeError):
            raise BugzillaError(f"Bugzilla answered without a bug list: {answer.text[:200]}") from None
        if not isinstance(bugs, list):
            raise BugzillaError("Bugzilla's 'bugs' is not a list")
        return bugs

    def changed_bugs(self, since: dt.datetime | None) -> Iterator[Bug]:
        """Bugs whose crash signature field changed since ``since`` (with its removals), or
        every bug that has one when ``since`` is None."""
        params = {"include_fields": FIELDS, "limit": self.page_size, "order": "bug_id"}
        if since is None:
            params.update({"f1": "cf_crash_signature", "o1": "isnotempty"})
        else:
            params.update({
                "chfield": "cf_crash_signature",
                "chfieldfrom": since.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "chfieldto": "Now",
            })
        offset = 0
        while True:
            page = self._page({**params, "offset": offset})
            for item in page:
                try:
                    bug_id = int(item["id"])
                except (KeyError, TypeError, ValueError):
                    raise BugzillaError(f"a bug without a numeric id: {str(item)[:200]}") from None
                yield Bug(
                    id=bug_id,
                    signatures=find_signatures(item.get("cf_crash_signature")),
                    status=item.get("status"),
                    resolution=item.get("resolution"),
                    summary=item.get("summary"),
                    last_change_time=_timestamp(item.get("last_change_time")),
                )
            if len(page) < self.page_size:
                return
            offset += len(page)
