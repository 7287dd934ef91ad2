"""Protected data in the API's answers: a caller without ``view_pii`` gets only the public
fields (``crashflow.fields``), and the answer's ``_withheld`` says what was left out.

``_withheld`` (documented in the README, "Protected data") is
``{"count": n, "fields": [paths the definitions name], "unlisted": m, "permission": "view_pii"}``:
``count`` fields were left out; ``fields`` names those the field definitions list (say
``URL`` or ``json_dump.crashing_thread.frames.registers``); ``unlisted`` counts the others,
an app's own annotations among them, whose names are withheld too. It is in every answer
made for a caller without ``view_pii`` (``count`` 0 when nothing was left out), never in one
made for a caller with it.
"""

from __future__ import annotations

from crashflow.api.calls import Call
from crashflow.fields import PII_PERMISSION, DocumentFields, Withheld

WITHHELD_KEY = "_withheld"


def public_document(fields: DocumentFields, call: Call, document: dict) -> dict:
    """``document`` as the caller may see it."""
    if call.may(PII_PERMISSION):
        return document
    view = fields.public_view(document)
    return {**view.document, WITHHELD_KEY: view.withheld.as_json()}


def with_withheld(call: Call, answer: dict, withheld: Withheld) -> dict:
    """``answer`` with its ``_withheld``, for a caller without ``view_pii``."""
    if call.may(PII_PERMISSION):
        return answer
    return {**answer, WITHHELD_KEY: withheld.as_json()}
