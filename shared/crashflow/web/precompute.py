"""The overview pages' answers computed right after the aggregation jobs ran
(``crashflow.api.answers``): the aggregate function asks the API what the home page, every
product's home (7, 14 and 28 days) and the top-crashers page (each product, 1 to 28 days,
no filter) ask, with storing on. An answer whose jobs did not run again since it was
stored is read, not recomputed."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from crashflow.api.answers import Answers
from crashflow.api.topcrashers import WINDOW_DAYS
from crashflow.settings import Settings
from crashflow.ttlcache import TtlCache
from crashflow.web.overview import PRODUCT_DAYS, home_asks, product_home_asks, today
from crashflow.web.page import ask
from crashflow.web.topcrashers import top_crashers_asks

log = logging.getLogger(__name__)


@dataclass
class PrecomputeServices:
    """What the overview endpoints use of the query function's services."""

    settings: Settings
    database: object
    answers: Answers = field(init=False)

    def __post_init__(self):
        self.answers = Answers(self.database, TtlCache(0), read_stored=True, store=True)


def overview_asks(products: list[str], day) -> list[tuple]:
    """(endpoint, parameters) of every overview page of ``products`` on ``day``."""
    asks = [*home_asks().values(), top_crashers_asks({})["products"]]
    for product in products:
        for days in PRODUCT_DAYS:
            asks += product_home_asks(product, days, day).values()
        asks += [top_crashers_asks({"product": product, "days": days})["ranking"] for days in WINDOW_DAYS]
    return asks


def precompute(settings: Settings, database) -> dict:
    """Store the answers of every overview page (of the products with crashes in the top
    crashers' picker window); how many asks, how many of them were computed (the others
    were stored already, under the latest runs) and how long it took."""
    started = time.monotonic()
    services = PrecomputeServices(settings, database)
    products_ask = top_crashers_asks({})["products"]
    products = [hit["product"] for hit in ask(services, frozenset(), *products_ask).body["hits"]]
    asks = overview_asks(products, today())
    for endpoint, params in asks:
        ask(services, frozenset(), endpoint, params)
    forgotten = services.answers.forget_old()
    seconds = round(time.monotonic() - started, 2)
    log.info("overview answers precomputed: %d asks for %d products (%d computed) in %.2f s",
             len(asks), len(products), services.answers.computed, seconds)
    return {"asks": len(asks), "computed": services.answers.computed, "products": len(products),
            "seconds": seconds, "forgotten": forgotten}
