"""Output the services' commands share (``newswire feeds list``, ``newswire dead list``,
``newswire articles``)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import click


def echo_json_or_none(rows: Sequence[Mapping[str, Any]], as_json: bool, none: str) -> bool:
    """Print ``rows`` as JSON lines (``--json``; nothing when there are none), or the ``none``
    message when there are no rows to show.

    True when that was the whole output; False when the command still has to print its rows
    for people (a table, one line each), so that each command keeps only that part.

    Non-ASCII text is written as is (``ensure_ascii=False``), like every other JSON the
    commands print: the lines stay readable (titles, names, error messages in any script)
    and parse to the same values.
    """
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return True
    if not rows:
        click.echo(none)
        return True
    return False
