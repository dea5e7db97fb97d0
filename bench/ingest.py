"""Ingest benchmark: pages extracted per second and articles queued per second.

Everything is real: pages are served by a local HTTP server and fetched through the
guarded fetcher, records are de-duplicated and recorded in a throw-away PostgreSQL
database, and accepted articles are published to the ``enrich`` queue of a Redis db.

    python bench/ingest.py [--pages 120] [--records 600] [--runs 3] [--redis-db 15]
    python bench/ingest.py --extraction    # main-text settings on tests/ingest/corpus/pages

Prints medians over the runs (the machine is shared: quote medians, not bests).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import threading
import time
import uuid
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


_SYLLABLES = "ka to ri men sa lo ver ban dit cor pel mu nas fe gro lin tar wes qui zo".split()


def _vocabulary(rng: random.Random, size: int = 3000) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 4))))
    return sorted(words)


def story(rng: random.Random, vocab: list[str]) -> tuple[str, list[str]]:
    """A distinct article of about 300 words (random prose: no near duplicates)."""
    paragraphs = []
    for _ in range(rng.randint(5, 8)):
        sentences = []
        for _ in range(rng.randint(2, 4)):
            words = rng.choices(vocab, k=rng.randint(10, 20))
            sentences.append(" ".join(words).capitalize() + ".")
        paragraphs.append(" ".join(sentences))
    title = " ".join(rng.choices(vocab, k=6)).capitalize()
    return title, paragraphs


def page_html(title: str, paragraphs: list[str], n: int) -> str:
    paras = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}'
        f'</title><meta property="article:published_time" content="2023-12-06T0{n % 10}:00:00Z">'
        '</head><body><nav><a href="/">Home</a> <a href="/world">World</a></nav>'
        f"<div>Advertisement</div><article><h1>{escape(title)}</h1>{paras}</article>"
        '<aside><h2>Related news</h2><ul><li><a href="/x">Other</a></li></ul></aside>'
        "<footer>Copyright</footer></body></html>"
    )


class _Server:
    def __init__(self, pages: dict[str, bytes]) -> None:
        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body leave without a 40 ms stall

            def do_GET(self) -> None:  # noqa: N802
                body = pages.get(self.path)
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *a: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


EXTRACTION_SETTINGS: dict[str, dict[str, Any]] = {
    "default": {},
    "favor_precision": {"favor_precision": True},
    "favor_recall": {"favor_recall": True},
    "fast (no fallbacks)": {"fast": True},
}


def compare_extraction() -> None:
    """Paragraph precision and recall of the main-text settings on the corpus pages.

    Truth (tests/ingest/corpus/pages.truth): the article's own paragraphs. A kept
    paragraph is right when it is one of them; a page whose truth is empty (a caption)
    is right when nothing of 40 words or more is kept.
    """
    import json

    from services.ingest.extract import extract_page
    from services.ingest.prepare import MIN_PAGE_WORDS, text_units

    corpus = ROOT / "tests" / "ingest" / "corpus"
    truth = json.loads((corpus / "pages.truth").read_text(encoding="utf-8"))
    print(f"main-text extraction on {len(truth)} corpus pages (paragraphs):")
    print(f"  {'settings':34} {'precision':>9} {'recall':>7} {'extra':>6} {'missed':>6} captions")
    for name, extra in EXTRACTION_SETTINGS.items():
        for container in (False, True):
            settings = {"include_comments": False, "include_tables": False, **extra}
            right = kept = wanted = captions_ok = captions = 0
            for page, paragraphs in truth.items():
                html = (corpus / "pages" / page).read_text(encoding="utf-8")
                data = extract_page(html, settings=settings, container_filter=container)
                body = (data or {}).get("body") or ""
                got = [p for p in body.split("\n\n") if p]
                if not paragraphs:
                    captions += 1
                    captions_ok += text_units(body) < MIN_PAGE_WORDS
                    continue
                want = {" ".join(p.split()) for p in paragraphs}
                kept += len(got)
                right += sum(1 for p in got if p in want)
                wanted += len(want)
            label = name + (" + main container" if container else "")
            print(
                f"  {label:34} {right / max(kept, 1):9.3f} {right / max(wanted, 1):7.3f} "
                f"{kept - right:6d} {wanted - right:6d} {captions_ok}/{captions}"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--pages", type=int, default=120)
    ap.add_argument("--records", type=int, default=600)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--redis-db", type=int, default=15)
    ap.add_argument("--extraction", action="store_true", help="compare main-text settings and stop")
    args = ap.parse_args()
    if args.extraction:
        compare_extraction()
        return

    from testkit.databases import REDIS_BASE, create_pg_database, drop_pg_database

    db_url = create_pg_database("nw_bench_ingest")
    redis_url = f"{REDIS_BASE}/{args.redis_db}"
    os.environ.update(
        NEWSWIRE_DATABASE_URL=db_url,
        NEWSWIRE_BROKER_URL=redis_url,
        NEWSWIRE_FETCH_ALLOW_PRIVATE="1",
        NEWSWIRE_FETCH_DOMAIN_INTERVAL="0",
        NEWSWIRE_LOG_LEVEL="ERROR",
    )
    import redis

    from services.ingest.extract import extract_page
    from services.ingest.pipeline import accept
    from shared import migrate
    from shared.logging import configure_logging
    from shared.schemas import RawItem

    configure_logging("console", "ERROR")
    migrate.upgrade(db_url)
    r = redis.Redis.from_url(redis_url)
    enrich_before = int(r.llen("enrich"))  # type: ignore[arg-type]

    rng = random.Random(7)
    vocab = _vocabulary(rng)
    total_pages = args.pages * args.runs
    pages: dict[str, bytes] = {}
    html_docs: list[str] = []
    for n in range(total_pages):
        title, paras = story(rng, vocab)
        html = page_html(title, paras, n)
        pages[f"/p/{n}"] = html.encode()
        html_docs.append(html)
    server = _Server(pages)

    extract_rates, fetch_rates, record_rates = [], [], []
    try:
        extract_page(html_docs[0])  # warm-up: imports, lazy models
        for run in range(args.runs):
            docs = html_docs[run * args.pages : (run + 1) * args.pages]
            t0 = time.perf_counter()
            for d in docs:
                extract_page(d)
            extract_rates.append(len(docs) / (time.perf_counter() - t0))

            items = [
                RawItem(kind="url", url=f"http://127.0.0.1:{server.port}/p/{n}")
                for n in range(run * args.pages, (run + 1) * args.pages)
            ]
            t0 = time.perf_counter()
            outcomes = accept(items)
            fetch_rates.append(len(items) / (time.perf_counter() - t0))
            assert all(o.status == "queued" for o in outcomes), outcomes[:3]

            records = []
            for _ in range(args.records):
                title, paras = story(rng, vocab)
                records.append(
                    RawItem(
                        title=title,
                        body="\n\n".join(paras),
                        url=f"https://bench.example/{uuid.uuid4().hex}?utm_source=x",
                        published="Wed, 06 Dec 2023 09:15:00 +0100",
                    )
                )
            t0 = time.perf_counter()
            size = 20
            for start in range(0, len(records), size):
                outs = accept(records[start : start + size])
                assert all(o.status == "queued" for o in outs), outs[:3]
            record_rates.append(len(records) / (time.perf_counter() - t0))
        queued = int(r.llen("enrich")) - enrich_before  # type: ignore[arg-type]
    finally:
        server.httpd.shutdown()
        r.delete("enrich")  # our messages only: nothing consumes this db
        drop_pg_database(db_url)

    def med(xs: list[float]) -> str:
        return f"{statistics.median(xs):8.1f}/s  (runs: {', '.join(f'{x:.1f}' for x in xs)})"

    print(f"ingest benchmark: {args.runs} runs, {args.pages} pages and {args.records} records each")
    print(f"  pages extracted (trafilatura, in memory)     {med(extract_rates)}")
    print(f"  pages fetched+extracted+queued (local HTTP)  {med(fetch_rates)}")
    print(f"  records queued (prepare+dedup+record+send)   {med(record_rates)}")
    print(f"  messages published to Redis 'enrich' queue: {queued} (batch size 20)")


if __name__ == "__main__":
    main()
