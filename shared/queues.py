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
