"""The Newswire console (``/console``) and the per-source health API (``/sources``).

One server-rendered page (jinja2 templates in ``data/console/``, a little vanilla
JavaScript, SVG drawn on the server: sparklines by hand, the world map with pygal),
working offline: nothing is fetched from anywhere but this API.

* **Pipeline**: each queue with waiting messages and the articles inside them (ingest
  included), oldest age, consumers, done and failed per minute, lag, sparklines over
  the last hour; open dead letters with their reasons and a replay button.
* **Sources**: per-source health (``services.ops.sources``), worst first, with the
  reason of every problem in words.
* **News**: a world map shaded by articles (or stories) per country over a chosen
  period, top entities, the latest articles with their countries; a click on a
  country or an entity filters the page.

Access: the console reads with the API's read token (or the write token) and replays
dead letters with the write token, like the JSON API (no write token set: no replay).
A browser cannot send an ``Authorization`` header on a plain page load, so the console
also takes the token from a cookie (``newswire_console``, HttpOnly, SameSite=Strict,
path ``/console``), set by the token form at ``/console/login`` or by opening
``/console?token=...`` once (the token is moved into the cookie and the URL redirected
without it). With no read token configured the console is open, as the API is.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from pydantic import BaseModel
from sqlalchemy import func, select

from services.ops import deadletters
from services.ops import sources as health
from services.ops.queues import consumers, redis_client, snapshot
from services.store import queries
from services.store.api.schemas import ERRORS, ErrorBody
from services.store.models import Article, ArticleCountry
from shared import queues
from shared.auth import require_read
from shared.db import is_postgres, session_scope
from shared.logging import get_logger
from shared.models import DeadLetter, IngestRecord
from shared.settings import get_settings

log = get_logger(__name__)

ASSETS = Path(__file__).resolve().parent / "data" / "console"
COOKIE = "newswire_console"
REFRESH_S = 15
PERIODS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
HISTORY_KEY = "newswire:console:history"  # Redis list of queue samples, newest first
HISTORY_GATE = "newswire:console:history:gate"
HISTORY_EVERY_S = 20
HISTORY_KEEP = 200  # samples (> one hour at one per 20 s)

router = APIRouter()


# ---------------------------------------------------------------- GET /sources


class FeedHealthOut(BaseModel):
    id: int
    url: str
    title: str | None
    enabled: bool
    interval_s: int
    last_polled_at: str | None
    last_success_at: str | None
    last_status: str | None
    last_error: str | None
    consecutive_failures: int
    failing_since: str | None
    backoff_s: int | None
    next_poll_at: str | None
    items_seen: int


class QualityOut(BaseModel):
    articles: int
    with_date: float | None
    with_author: float | None
    with_body: float | None


class SourceOut(BaseModel):
    id: str
    status: Literal["ok", "degraded", "quiet", "failing"]
    problems: list[str]
    articles_30d: int
    articles_24h: int
    per_day: list[int]
    last_article_at: str | None
    quiet_s: float | None
    usual_interval_s: float | None
    feeds: list[FeedHealthOut]
    rejections: dict[str, int]
    quality: dict[str, QualityOut]


class SourceListOut(BaseModel):
    at: str
    counts: dict[str, int]
    sources: list[SourceOut]


def _sources_now(source: str | None = None) -> list[health.SourceHealth]:
    return health.health(source=source)


# The console's sources and news sections are cached (NEWSWIRE_CONSOLE_CACHE_S, 0 = off):
# fresh for that long; then, for up to STALE_S more, the last value is served at once while
# one background thread recomputes it (stale-while-revalidate), so a page load waits for a
# computation only on a cold start or after STALE_S without visitors. Every open console
# refreshes every 15 s and these figures move by the minute. The pipeline section is never
# cached; GET /sources, the CLI and /metrics always compute afresh.
CACHE_S = get_settings().console_cache_s
STALE_S = 300.0
_cache: dict[Any, tuple[float, Any]] = {}
_refreshing: set[Any] = set()
_cache_lock = threading.Lock()
_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="console")


def cached(key: Any, compute: Any) -> Any:
    if CACHE_S <= 0:
        return compute()
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
        age = now - hit[0] if hit is not None else None
        if hit is not None and age is not None and age < CACHE_S:
            return hit[1]
        if hit is not None and age is not None and age < CACHE_S + STALE_S:
            if key not in _refreshing:
                _refreshing.add(key)
                _pool.submit(_refresh, key, compute)
            return hit[1]
    return _refresh(key, compute)


def _refresh(key: Any, compute: Any) -> Any:
    try:
        value = compute()
        with _cache_lock:
            _cache[key] = (time.monotonic(), value)
            if len(_cache) > 256:
                for k, _ in sorted(_cache.items(), key=lambda kv: kv[1][0])[:128]:
                    _cache.pop(k, None)
        return value
    except Exception:  # noqa: BLE001 - logged; a foreground caller sees it raised
        log.exception("console_refresh_failed", key=str(key)[:200])
        raise
    finally:
        with _cache_lock:
            _refreshing.discard(key)


@router.get(
    "/sources",
    response_model=SourceListOut,
    tags=["sources"],
    dependencies=[Depends(require_read)],
    responses=ERRORS,
)
def list_sources(
    status: Annotated[
        Literal["ok", "degraded", "quiet", "failing"] | None,
        Query(description="only sources in this state"),
    ] = None,
) -> dict[str, Any]:
    """Every source (feed or site) with its health, worst first: articles per day over
    30 days, last article and usual interval, feeds (last poll, last success,
    consecutive failures with the error, backoff), rejection reasons, extraction
    quality (last day vs the week before) and the problems in words."""
    found = _sources_now()
    counts: dict[str, int] = {}
    for h in found:
        counts[h.status] = counts.get(h.status, 0) + 1
    return {
        "at": datetime.now(UTC).isoformat(),
        "counts": counts,
        "sources": [h.as_dict() for h in found if status is None or h.status == status],
    }


@router.get(
    "/sources/{source_id:path}",
    response_model=SourceOut,
    tags=["sources"],
    dependencies=[Depends(require_read)],
    responses={**ERRORS, 404: {"model": ErrorBody, "description": "no such source"}},
)
def get_source(
    source_id: Annotated[
        str,
        PathParam(
            min_length=1,
            max_length=300,
            description="the source name as in /sources (URL-encoded), or a feed id",
        ),
    ],
) -> dict[str, Any]:
    """One source's health (the same record as in ``/sources``)."""
    found = [h for h in _sources_now(source_id) if h.id == source_id or _feed_match(h, source_id)]
    if not found:
        raise HTTPException(status_code=404, detail=f"no source {source_id!r}")
    return found[0].as_dict()


def _feed_match(h: health.SourceHealth, key: str) -> bool:
    return key.isdigit() and any(str(f["id"]) == key for f in h.feeds)


# ---------------------------------------------------------------- access


def _token_ok(token: str | None, *expected: str | None) -> bool:
    return token is not None and any(
        e is not None and hmac.compare_digest(token.encode(), e.encode()) for e in expected
    )


def _presented_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(COOKIE) or None


def access(request: Request) -> tuple[bool, bool]:
    """(may read, may replay) for this request."""
    settings = get_settings()
    token = _presented_token(request)
    # As for the API's writes (shared.auth): no write token set, no replay for anyone.
    can_write = bool(settings.api_token) and _token_ok(token, settings.api_token)
    can_read = (
        settings.api_read_token is None
        or can_write
        or _token_ok(token, settings.api_read_token, settings.api_token)
    )
    return can_read, can_write


# ---------------------------------------------------------------- templates


_env: Any = None


def templates() -> Any:
    global _env
    if _env is None:
        _env = Environment(
            loader=FileSystemLoader(str(ASSETS)),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        _env.filters["age"] = fmt_age
        _env.filters["num"] = fmt_num
        _env.filters["pct"] = lambda v: "-" if v is None else f"{v:.0%}"
        _env.filters["spark"] = sparkline_svg
        _env.filters["when"] = lambda v: (v or "-")[:16].replace("T", " ")
    return _env


def fmt_age(seconds: float | None) -> str:
    return "-" if seconds is None else health.fmt_duration(seconds)


def fmt_num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}" if value < 100 else f"{value:,.0f}"
    return f"{value:,}"


def sparkline_svg(values: list[float] | None, width: int = 120, height: int = 24) -> str:
    """A small inline SVG polyline (drawn here: one chart per cell, no library needed)."""
    vals = [float(v or 0) for v in (values or [])]
    if len(vals) < 2:
        vals = [vals[0] if vals else 0.0] * 2
    top = max(vals) or 1.0
    step = width / (len(vals) - 1)
    points = " ".join(
        f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}" for i, v in enumerate(vals)
    )
    # Only numbers and fixed markup go into it: nothing from the request or the database.
    return Markup(  # noqa: S704
        f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="max {top:g}"><polyline fill="none" stroke="currentColor" '
        f'stroke-width="1.5" points="{points}"/></svg>'
    )


# ---------------------------------------------------------------- pipeline data


_consumers: dict[str, Any] = {"at": 0.0, "value": None, "busy": False}
_consumers_lock = threading.Lock()


def cached_consumers(max_age: float = 15.0) -> dict[str, int] | None:
    """Consumers per queue, refreshed in the background (asking workers takes a second)."""
    url = get_settings().broker_url
    if not url:
        return None
    with _consumers_lock:
        stale = time.monotonic() - _consumers["at"] > max_age
        start = stale and not _consumers["busy"]
        if start:
            _consumers["busy"] = True

    def refresh() -> None:
        try:
            value = consumers(url, timeout=1.0)
        finally:
            with _consumers_lock:
                _consumers["busy"] = False
        with _consumers_lock:
            _consumers.update(at=time.monotonic(), value=value)

    if start:
        threading.Thread(target=refresh, name="console-consumers", daemon=True).start()
    return _consumers["value"]  # type: ignore[no-any-return]


def _record_history(client: Any, snap: Any) -> list[dict[str, Any]]:
    """Keep one sample of every queue per 20 s in Redis; the last hour of them."""
    now = time.time()
    if client.set(HISTORY_GATE, "1", nx=True, ex=HISTORY_EVERY_S):
        sample = {
            "t": round(now, 1),
            "q": {
                qs.name: [qs.waiting or 0, qs.articles_waiting or 0]
                for qs in snap.queues
                if qs.name in queues.QUEUES
            },
        }
        pipe = client.pipeline(transaction=False)
        pipe.lpush(HISTORY_KEY, json.dumps(sample))
        pipe.ltrim(HISTORY_KEY, 0, HISTORY_KEEP - 1)
        pipe.execute()
    out = []
    for raw in client.lrange(HISTORY_KEY, 0, HISTORY_KEEP - 1):
        try:
            sample = json.loads(raw)
        except ValueError:
            continue
        if now - float(sample.get("t", 0)) <= 3600:
            out.append(sample)
    return list(reversed(out))


def minute_series(now: datetime, minutes: int = 60) -> dict[str, dict[str, list[int]]]:
    """Articles done and failed per minute and stage over the last hour (the database)."""
    start = (now - timedelta(minutes=minutes - 1)).replace(second=0, microsecond=0)

    def bucket(session: Any, column: Any) -> Any:
        if is_postgres(session):
            return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD HH24:MI")
        return func.strftime("%Y-%m-%d %H:%M", column)

    keys = [(start + timedelta(minutes=i)).strftime("%Y-%m-%d %H:%M") for i in range(minutes)]
    index = {k: i for i, k in enumerate(keys)}
    out = {q: {"done": [0] * minutes, "failed": [0] * minutes} for q in queues.QUEUES}
    with session_scope() as session:
        for stage, column in (
            (queues.INGEST, IngestRecord.received_at),
            (queues.ENRICH, IngestRecord.enriched_at),
            (queues.STORE, IngestRecord.stored_at),
        ):
            b = bucket(session, column)
            for key, n in session.execute(
                select(b, func.count()).where(column >= start).group_by(b)
            ):
                if key in index:
                    out[stage]["done"][index[key]] = int(n)  # type: ignore[call-overload]
        b = bucket(session, DeadLetter.created_at)
        for task, key, n in session.execute(
            select(DeadLetter.task, b, func.count())
            .where(DeadLetter.created_at >= start)
            .group_by(DeadLetter.task, b)
        ):
            stage = str(task).split(".", 1)[0]
            if stage in out and key in index:
                out[stage]["failed"][index[key]] += int(n)  # type: ignore[call-overload]
    return out


_pipe_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="console-pipeline")


def _open_letters() -> tuple[list[dict[str, Any]], dict[str, int]]:
    letters = deadletters.list_letters(status=deadletters.OPEN, limit=25)
    by_reason = {
        reason: n
        for (status, reason), n in deadletters.counts().items()
        if status == deadletters.OPEN
    }
    return letters, by_reason


def pipeline_data() -> dict[str, Any]:
    settings = get_settings()
    at = datetime.now(UTC)
    # The per-minute series and the dead letters are read side by side with the snapshot.
    series_job = _pipe_pool.submit(minute_series, at)
    letters_job = _pipe_pool.submit(_open_letters)
    snap = snapshot(with_consumers=False)
    found = cached_consumers()
    history: list[dict[str, Any]] = []
    if settings.broker_url and not snap.errors:
        try:
            client = redis_client(settings.broker_url)
            history = _record_history(client, snap)
        except Exception as exc:  # noqa: BLE001 - the page shows what it has
            snap.errors.append(f"history: {type(exc).__name__}: {exc}")
    try:
        series = series_job.result()
    except Exception as exc:  # noqa: BLE001
        snap.errors.append(f"database: {type(exc).__name__}: {exc}")
        series = {}
    rows = []
    for qs in snap.queues:
        row = qs.as_dict()
        if qs.name in queues.QUEUES:
            if found is not None:
                row["consumers"] = found.get(qs.name, 0)
            row["waiting_history"] = [s["q"].get(qs.name, [0, 0])[0] for s in history]
            row["articles_history"] = [s["q"].get(qs.name, [0, 0])[1] for s in history]
            row["done_series"] = series.get(qs.name, {}).get("done", [])
            row["failed_series"] = series.get(qs.name, {}).get("failed", [])
        rows.append(row)
    letters: list[dict[str, Any]] = []
    by_reason: dict[str, int] = {}
    try:
        letters, by_reason = letters_job.result()
    except Exception as exc:  # noqa: BLE001
        snap.errors.append(f"dead letters: {type(exc).__name__}: {exc}")
    return {
        "at": snap.at,
        "broker": snap.broker,
        "window_s": snap.window_s,
        "queues": rows,
        "lag": {"p50_s": snap.lag_p50_s, "p95_s": snap.lag_p95_s},
        "errors": snap.errors,
        "letters": letters,
        "letters_by_reason": dict(sorted(by_reason.items(), key=lambda kv: -kv[1])),
        "history_samples": len(history),
    }


# ---------------------------------------------------------------- news data


class NewsQuery(BaseModel):
    period: Literal["24h", "7d", "30d"] = "7d"
    country: str | None = None
    entity: str | None = None
    unit: Literal["articles", "stories"] = "articles"
    end: str | None = None  # YYYY-MM-DD: the period ends with that UTC day (default: now)

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        until = now
        if self.end:
            until = datetime.fromisoformat(self.end).replace(tzinfo=UTC) + timedelta(days=1)
        return until - PERIODS[self.period], until

    def link(self, **change: Any) -> str:
        values = {**self.model_dump(), **change}
        params = {k: v for k, v in values.items() if v and (k, v) not in _DEFAULTS}
        return "/console" + ("?" + urlencode(params) if params else "") + "#news"


_DEFAULTS = {("period", "7d"), ("unit", "articles")}


def news_query(
    period: Annotated[str, Query(max_length=8)] = "7d",
    country: Annotated[str | None, Query(max_length=2)] = None,
    entity: Annotated[str | None, Query(max_length=300)] = None,
    unit: Annotated[str, Query(max_length=10)] = "articles",
    end: Annotated[str | None, Query(max_length=10)] = None,
) -> NewsQuery:
    try:
        end = date.fromisoformat(end).isoformat() if end else None
    except ValueError:
        end = None
    return NewsQuery(
        end=end,
        period=period if period in PERIODS else "7d",  # type: ignore[arg-type]
        country=country.upper() if country and country.isalpha() else None,
        entity=(entity or "").strip() or None,
        unit=unit if unit in ("articles", "stories") else "articles",  # type: ignore[arg-type]
    )


def _stories_available(session: Any) -> bool:
    return hasattr(Article, "story_id")


def news_data(nq: NewsQuery, *, with_countries: bool = True) -> dict[str, Any]:
    since, until = nq.window(datetime.now(UTC))
    filters = queries.ArticleFilters.build(
        since=since,
        until=until,
        country=[nq.country] if nq.country else None,
        entity=[nq.entity] if nq.entity else None,
    )
    out: dict[str, Any] = {"query": nq, "countries": [], "entities": [], "articles": []}
    with session_scope() as session:
        stories = nq.unit == "stories" and _stories_available(session)
        out["unit"] = "stories" if stories else "articles"
        where = queries.filter_clauses(session, filters)
        if where is None:
            return out
        if with_countries:
            n = (
                func.count(func.distinct(Article.story_id))
                if stories
                else func.count(ArticleCountry.article_id)
            )
            rows = session.execute(
                select(ArticleCountry.code, func.max(ArticleCountry.name), n)
                .join(Article, Article.id == ArticleCountry.article_id)
                .where(*where)
                .group_by(ArticleCountry.code)
                .order_by(n.desc(), ArticleCountry.code)
            ).all()
            out["countries"] = [{"code": c, "name": name, "n": int(v)} for c, name, v in rows]
        out["entities"] = queries.top_entities(session, filters, limit=15)
        page = queries.search_articles(session, filters, limit=20)
        ids = [a.id for a in page.articles]
        tags: dict[str, list[tuple[str, str]]] = {}
        if ids:
            for aid, code, name in session.execute(
                select(ArticleCountry.article_id, ArticleCountry.code, ArticleCountry.name)
                .where(ArticleCountry.article_id.in_(ids))
                .order_by(ArticleCountry.mentions.desc(), ArticleCountry.code)
            ):
                tags.setdefault(aid, []).append((code, name))
        out["articles"] = [
            {
                "id": a.id,
                "title": a.title or "(no title)",
                "url": a.url,
                "source": a.source,
                "dated_at": a.dated_at.isoformat() if a.dated_at else None,
                "countries": tags.get(a.id, []),
            }
            for a in page.articles
        ]
    return out


_map_cache: OrderedDict[str, bytes] = OrderedDict()
_map_lock = threading.Lock()


def world_map_svg(countries: list[dict[str, Any]], unit: str) -> bytes:
    """The world map shaded by count per country, rendered with pygal (cached by data)."""
    values = {c["code"].lower(): c["n"] for c in countries if c["n"]}
    key = hashlib.sha256(json.dumps([unit, sorted(values.items())]).encode()).hexdigest()
    with _map_lock:
        hit = _map_cache.get(key)
        if hit is not None:
            _map_cache.move_to_end(key)
            return hit
    # Deferred on purpose: pygal (~100 ms) only when a map is drawn, not at API start-up.
    from pygal.style import Style
    from pygal_maps_world.maps import World

    style = Style(
        background="transparent",
        plot_background="transparent",
        # No data at all: pygal would draw "No data" instead of the map; one
        # uncoloured zero keeps the map (and its clickable countries) on the page.
        colors=("#c0392b",) if values else ("#d6dbe3",),
        foreground="#555",
    )
    chart = World(
        style=style,
        show_legend=False,
        width=960,
        height=500,
        disable_xml_declaration=True,
        # Offline: no tooltip script from pygal's CDN (the page's JS handles clicks); the
        # default CSS stays, pygal inlines it from its own package files.
        js=[],
        explicit_size=False,
        margin=0,
    )
    chart.add(unit, values or [("aq", 0)])
    svg = chart.render(is_unicode=True)
    with _map_lock:
        _map_cache[key] = svg.encode()
        while len(_map_cache) > 32:
            _map_cache.popitem(last=False)
    return svg.encode()


# ---------------------------------------------------------------- pages


def _render(name: str, **context: Any) -> str:
    return str(templates().get_template(name).render(**context))


def _login_page(message: str | None, status_code: int = 401) -> HTMLResponse:
    return HTMLResponse(
        _render("login.html", message=message, refresh_s=REFRESH_S), status_code=status_code
    )


def _sections(can_write: bool, nq: NewsQuery, only: str | None = None) -> dict[str, Any]:
    """The data of every section (or one), the sections computed side by side."""
    ctx: dict[str, Any] = {
        "can_write": can_write,
        "writes_enabled": bool(get_settings().api_token),
        "nq": nq,
        "refresh_s": REFRESH_S,
    }
    jobs: dict[str, Any] = {}
    if only in (None, "sources"):
        jobs["sources"] = _pool.submit(cached, ("sources",), _sources_now)
    if only in (None, "news"):
        key = ("news", nq.model_dump_json())
        jobs["news"] = _pool.submit(cached, key, lambda: news_data(nq))
    if only in (None, "pipeline"):
        ctx["pipe"] = pipeline_data()
    if "sources" in jobs:
        found = jobs["sources"].result()
        ctx["sources"] = [h.as_dict() for h in found]
        ctx["source_counts"] = {
            s: sum(1 for h in found if h.status == s) for s in ("failing", "quiet", "degraded")
        }
    if "news" in jobs:
        ctx["news"] = jobs["news"].result()
        ctx["map_url"] = "/console/map.svg?" + urlencode(
            {k: v for k, v in nq.model_dump().items() if v}
        )
    ctx["generated_at"] = datetime.now(UTC)
    return ctx


@router.get("/console", include_in_schema=False, response_model=None)
async def console(
    request: Request,
    nq: Annotated[NewsQuery, Depends(news_query)],
    part: Annotated[str | None, Query(max_length=20)] = None,
    token: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """The console page (or one section of it, ``part=pipeline|sources|news``)."""
    if token is not None:  # move a ?token= into the cookie, and out of the address bar
        params = {k: v for k, v in request.query_params.items() if k != "token"}
        target = "/console" + ("?" + urlencode(params) if params else "")
        return _with_cookie(request, RedirectResponse(target, status_code=303), token)
    can_read, can_write = access(request)
    if not can_read:
        return _login_page(None)
    started = time.perf_counter()
    only = part if part in ("pipeline", "sources", "news") else None
    ctx = await run_in_threadpool(_sections, can_write, nq, only)
    html = _render(f"_{only}.html" if only else "console.html", **ctx)
    log.debug("console_rendered", part=only, ms=round((time.perf_counter() - started) * 1000, 1))
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


@router.get("/console/map.svg", include_in_schema=False, response_model=None)
async def console_map(request: Request, nq: Annotated[NewsQuery, Depends(news_query)]) -> Response:
    """The news map alone (loaded after the page: it is a large SVG)."""
    can_read, _ = access(request)
    if not can_read:
        return Response(status_code=401)

    def build() -> bytes:
        data = cached(("news", nq.model_dump_json()), lambda: news_data(nq))
        return world_map_svg(data["countries"], data.get("unit", nq.unit))

    body = await run_in_threadpool(build)
    headers = {"Cache-Control": "private, max-age=30"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        body = gzip.compress(body, compresslevel=1)
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type="image/svg+xml", headers=headers)


def _with_cookie(request: Request, response: Response, token: str) -> Response:
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        path="/console",
        secure=request.url.scheme == "https",
        max_age=7 * 86400,
    )
    return response


@router.get("/console/login", include_in_schema=False, response_model=None)
def login_form(request: Request) -> Response:
    can_read, _ = access(request)
    if can_read and get_settings().api_read_token is None:
        return RedirectResponse("/console", status_code=303)
    return _login_page(None, status_code=200)


@router.post("/console/login", include_in_schema=False, response_model=None)
async def login(request: Request) -> Response:
    """The token form: checks the token, keeps it in an HttpOnly cookie."""
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    token = (form.get("token") or [""])[0].strip()
    settings = get_settings()
    if not _token_ok(token, settings.api_read_token, settings.api_token) and (
        settings.api_read_token is not None
    ):
        return _login_page("That token is not valid for reading.")
    return _with_cookie(request, RedirectResponse("/console", status_code=303), token)


@router.post("/console/logout", include_in_schema=False, response_model=None)
def logout() -> Response:
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(COOKIE, path="/console")
    return response


@router.post("/console/replay/{letter_id}", include_in_schema=False, response_model=None)
async def replay(request: Request, letter_id: int) -> Response:
    """Replay one dead letter (write token). Same-origin only: the page's own button."""
    origin = request.headers.get("origin")
    if origin and origin != f"{request.url.scheme}://{request.url.netloc}":
        return JSONResponse({"error": "forbidden", "message": "cross-origin"}, status_code=403)
    _, can_write = access(request)
    if not get_settings().api_token:
        return JSONResponse(
            {
                "error": "unavailable",
                "message": "replay is disabled: NEWSWIRE_API_TOKEN is not set",
            },
            status_code=503,
        )
    if not can_write:
        return JSONResponse(
            {"error": "unauthorized", "message": "replaying needs the write token"},
            status_code=401,
        )

    result = await run_in_threadpool(deadletters.replay, deadletters.Selection(ids=(letter_id,)))
    log.info("console_replay", letter_id=letter_id, result=result)
    status = 200 if result["replayed"] else 409
    return JSONResponse(result, status_code=status)


@router.get("/console/assets/{name}", include_in_schema=False, response_model=None)
def asset(name: str) -> Response:
    types = {"console.js": "text/javascript", "console.css": "text/css"}
    if name not in types:
        return Response(status_code=404)
    return Response(
        (ASSETS / name).read_bytes(),
        media_type=types[name],
        headers={"Cache-Control": "public, max-age=300"},
    )
