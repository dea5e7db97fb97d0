"""Enrich commands for ``newswire``: ``tag`` (the enrich step alone, stdin to stdout).

``newswire reenrich`` (re-tag stored articles) reads the store: it is an operator command,
in :mod:`services.ops.reenrich` (stages never import each other; ops may read them all).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click


@click.command("tag")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1, 1000))
def tag(batch_size: int) -> None:
    """Tag JSON Lines from stdin (id, body, optional title); one JSON line out per input.

    The enrich step alone: no broker, no database. A line that is not valid gets
    {"id": ..., "error": ...} in its place.
    """
    # Deferred on purpose: the tagger (spaCy, the gazetteer) is for this command only.
    from services.enrich.tagger import get_tagger

    tagger = get_tagger()

    def flush(
        batch: list[tuple[int, dict[str, Any]]], errors: dict[int, dict[str, Any]], total: int
    ) -> None:
        results = tagger.tag_many([d for _, d in batch], batch_size=batch_size) if batch else []
        by_line = {n: r for (n, _), r in zip(batch, results, strict=True)}
        for n in range(total):
            if n in errors:
                out = errors[n]
            else:
                r = by_line[n]
                out = {k: r[k] for k in ("id", "entities", "countries", "regions", "enrichment")}
            sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        sys.stdout.flush()

    batch: list[tuple[int, dict[str, Any]]] = []
    errors: dict[int, dict[str, Any]] = {}
    n = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict) or not isinstance(obj.get("body"), str):
                raise ValueError("expected an object with a string 'body'")
            obj.setdefault("id", str(n + 1))
            obj["id"] = str(obj["id"])
            batch.append((n, obj))
        except ValueError as exc:
            errors[n] = {"id": None, "line": n + 1, "error": str(exc)}
            click.secho(f"line {n + 1}: {exc}", fg="yellow", err=True)
        n += 1
        if len(batch) + len(errors) >= batch_size:
            flush(batch, errors, n)
            # Renumber: everything so far is written.
            batch, errors, n = [], {}, 0
    flush(batch, errors, n)


commands = [tag]
