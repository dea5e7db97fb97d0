"""The API's token rule lives in :mod:`shared.auth` (one rule for every router); re-exported
here for the store's routers."""

from shared.auth import require_read, require_write

__all__ = ["require_read", "require_write"]
