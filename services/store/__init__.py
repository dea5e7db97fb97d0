"""Store: persist enriched articles idempotently and serve them."""
