"""Queue and task names: the only thing services know of each other."""

INGEST = "ingest"
ENRICH = "enrich"
STORE = "store"
QUEUES = (INGEST, ENRICH, STORE)

# Tasks are "<service>.<verb>_<noun>" and routed by their prefix.
INGEST_ITEMS = "ingest.ingest_items"
POLL_FEEDS = "ingest.poll_feeds"
TAG_ARTICLES = "enrich.tag_articles"
STORE_ARTICLES = "store.store_articles"
RECONCILE = "store.reconcile"
INDEX_SEARCH = "store.index_search"
CLUSTER_STORIES = "store.cluster_stories"

ROUTES = {
    "ingest.*": {"queue": INGEST},
    "enrich.*": {"queue": ENRICH},
    "store.*": {"queue": STORE},
}


def queue_of(task: str) -> str:
    """The queue a task is routed to (by its "<service>." prefix, as ROUTES says)."""
    queue = task.split(".", 1)[0]
    if queue not in QUEUES:
        raise ValueError(f"task {task!r} has no queue (its prefix is not one of {QUEUES})")
    return queue


def periodic(task: str, every: int) -> dict[str, object]:
    """A beat schedule entry: ``task`` every ``every`` seconds on its own queue; a run that
    waited longer than one interval is dropped (the next one does the same work)."""
    return {
        "task": task,
        "schedule": float(every),
        "options": {"queue": queue_of(task), "expires": every},
    }


# Where a queue's messages sit in Redis: one list per priority step (kombu's layout).
PRIORITY_STEPS = (0, 3, 6, 9)  # kombu.transport.redis.PRIORITY_STEPS
PRIORITY_SEP = "\x06\x16"  # kombu.transport.redis.Channel.sep


def priority_keys(queue: str) -> list[str]:
    """The Redis list keys holding ``queue``'s waiting messages, highest priority first."""
    return [queue if not p else f"{queue}{PRIORITY_SEP}{p}" for p in PRIORITY_STEPS]
