"""The stores and helpers the query function's endpoints and pages share (``Services``).

Routing, the token gate and errors are ``crashflow.query_app``'s."""

from __future__ import annotations

from crashflow.api.answers import Answers
from crashflow.api.priority import PriorityProcessing
from crashflow.fields import FieldDefinitions
from crashflow.settings import Settings
from crashflow.stores.factory import Stores
from crashflow.tokens import TokenCache, TokenStore
from crashflow.ttlcache import TtlCache


class Services:
    """The stores and helpers the endpoints use; one set per process, shared by threads."""

    def __init__(self, settings: Settings, stores: Stores | None = None):
        self.settings = settings
        self.stores = stores or Stores.from_settings(settings, "query")
        self.database = self.stores.reports
        self.crashes = self.stores.crashes
        self.queues = self.stores.queues
        self.fields = FieldDefinitions.from_settings(settings)
        self.priority = PriorityProcessing(settings, self.queues)
        self.tokens = TokenCache(TokenStore(self.database), settings.api_token_cache_seconds)
        self.answers = Answers(self.database, TtlCache(settings.api_aggregates_cache_seconds),
                               read_stored=settings.api_precomputed_answers)
