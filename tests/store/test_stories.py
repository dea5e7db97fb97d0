"""Stories: grouping quality on the generated corpus, redelivery and replay, two
concurrent writers on PostgreSQL, the backlog sweep, rebuild, and the API and CLI."""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from services.store import stories
from services.store.models import Story
from services.store.repository import upsert_batch
from services.store.tasks import store_batch
from shared import db, migrate
from testkit.api import make_client
from testkit.databases import create_pg_database, drop_pg_database, migrated_database
from testkit.story_corpus import StoryArticle, bcubed, build_story_corpus
from tests.store.helpers import write

EVENTS = 40


def grouping(url: str) -> dict[str, int | None]:
    with db.session_scope(url) as session:
        return dict(session.execute(sa.text("SELECT id, story_id FROM articles")).all())


def partition(url: str) -> set[frozenset[str]]:
    """The grouping without the story ids (a rebuild makes new ids)."""
    groups: dict[Any, set[str]] = {}
    for aid, sid in grouping(url).items():
        groups.setdefault(sid if sid is not None else ("alone", aid), set()).add(aid)
    return {frozenset(g) for g in groups.values()}


@pytest.fixture(scope="module")
def corpus() -> list[StoryArticle]:
    return build_story_corpus(seed=11, events=EVENTS, days=10)


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def stories_url(
    request: pytest.FixtureRequest,
    corpus: list[StoryArticle],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """The story corpus stored as the store worker does (batches of 20, in date order)."""
    with migrated_database(request.param, "nw_stories", tmp_path_factory.mktemp("stories")) as url:
        write(url, [a.article() for a in corpus], batch=20)
        yield url


@pytest.fixture
def fresh_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    if getattr(request, "param", "sqlite") == "postgresql":
        url = create_pg_database("nw_stories")
        migrate.upgrade(url)
        yield url
        drop_pg_database(url)
    else:
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
        migrate.upgrade(url)
        yield url
        db.dispose_engine()


BOTH = pytest.mark.parametrize("fresh_url", ["postgresql", "sqlite"], indirect=True)


# ---------------------------------------------------------------- grouping


def test_every_article_gets_a_story_and_the_grouping_matches_the_events(
    stories_url: str, corpus: list[StoryArticle]
):
    got = grouping(stories_url)
    assert len(got) == len(corpus) and None not in got.values()
    truth = {a.id: a.event for a in corpus}
    precision, recall, f1 = bcubed(truth, got)
    assert f1 >= 0.9, (precision, recall, f1)
    # Control: lumping everything together or splitting everything apart scores badly.
    assert bcubed(truth, {a: 1 for a in truth})[2] < 0.5
    assert bcubed(truth, {a: None for a in truth})[2] < 0.6


def test_story_counts_agree_with_its_articles(stories_url: str):
    with db.session_scope(stories_url) as session:
        rows = session.execute(
            sa.text(
                "SELECT s.id, s.article_count, s.source_count, count(a.id), "
                "count(DISTINCT a.source), min(a.dated_at), max(a.dated_at) "
                "FROM stories s JOIN articles a ON a.story_id = s.id "
                "GROUP BY s.id, s.article_count, s.source_count"
            )
        ).all()
        stored = {s.id: s for s in session.scalars(sa.select(Story))}
    assert rows and len(rows) == len(stored)  # no story without articles
    for sid, n, sources, counted, counted_sources, first, last in rows:
        assert (n, sources) == (counted, counted_sources)
        story = stored[sid]
        assert str(story.first_seen)[:19] == str(first)[:19]
        assert str(story.last_seen)[:19] == str(last)[:19]
        assert story.title  # a representative title
        assert story.growth > 0


def test_redelivery_and_replay_never_change_the_grouping(
    stories_url: str, corpus: list[StoryArticle]
):
    before = grouping(stories_url)
    with db.session_scope(stories_url) as session:
        counts = dict(session.execute(sa.text("SELECT id, article_count FROM stories")).all())
    # Redelivery: the same messages again, newest first, in other batch sizes.
    articles = [a.article() for a in reversed(corpus)]
    write(stories_url, articles, batch=7)
    # Replay after re-enrichment: newer enrichment (tags replaced), same articles.
    later = corpus[0].published_at + timedelta(days=60)
    write(stories_url, [a.article(enriched_at=later) for a in corpus[:50]], batch=50)
    assert grouping(stories_url) == before
    with db.session_scope(stories_url) as session:
        after = dict(session.execute(sa.text("SELECT id, article_count FROM stories")).all())
    assert after == counts


def test_an_article_is_never_moved_by_clustering_it_again(stories_url: str):
    before = grouping(stories_url)
    with db.session_scope(stories_url) as session:
        result = stories.cluster_articles(session, sorted(before))
    assert result.articles == 0 and result.skipped == len(before)
    assert grouping(stories_url) == before


@BOTH
def test_a_late_article_joins_its_story_by_date_and_a_later_lookalike_does_not(
    fresh_url: str, corpus: list[StoryArticle]
):
    sizes = Counter(a.event for a in corpus)
    event = max(sizes, key=lambda e: (sizes[e], -e))
    members = [a for a in corpus if a.event == event]
    late, early = members[-1], members[:-1]
    write(fresh_url, [a.article() for a in early])
    story_ids = set(grouping(fresh_url).values())
    assert len(story_ids) == 1
    # Stored long after the story went quiet, but dated within it: joins it.
    write(fresh_url, [late.article()])
    assert grouping(fresh_url)[late.id] in story_ids
    # The same text dated two weeks later is another event: a new story.
    copy = late.article().model_copy(
        update={
            "id": "lookalike-" + late.id[:20],
            "published_at": late.published_at + timedelta(days=14),
        }
    )
    write(fresh_url, [copy])
    assert grouping(fresh_url)[copy.id] not in story_ids


@BOTH
def test_the_sweep_places_what_the_store_step_left_unclustered(
    fresh_url: str, corpus: list[StoryArticle]
):
    articles = [a.article() for a in corpus[:60]]
    with db.session_scope(fresh_url) as session:
        upsert_batch(session, articles)  # as if the worker died before clustering
    with db.session_scope(fresh_url) as session:
        assert stories.backlog(session) == 60
    done = stories.cluster_backlog(fresh_url, batch=25)
    assert done.articles == 60
    with db.session_scope(fresh_url) as session:
        assert stories.backlog(session) == 0
    assert None not in grouping(fresh_url).values()


@BOTH
def test_rebuild_is_idempotent_and_since_keeps_earlier_stories(
    fresh_url: str, corpus: list[StoryArticle]
):
    write(fresh_url, [a.article() for a in corpus], batch=20)
    first = stories.rebuild(fresh_url)
    assert first.articles == len(corpus)
    once = partition(fresh_url)
    stories.rebuild(fresh_url)
    assert partition(fresh_url) == once
    # --since: stories that ended before it keep their ids; the rest regroup the same way.
    mid = corpus[len(corpus) // 2].published_at
    with db.session_scope(fresh_url) as session:
        kept = dict(
            session.execute(
                sa.text("SELECT id, article_count FROM stories WHERE last_seen < :m"), {"m": mid}
            ).all()
        )
    stories.rebuild(fresh_url, since=mid)
    again = partition(fresh_url)
    stories.rebuild(fresh_url, since=mid)
    assert partition(fresh_url) == again
    with db.session_scope(fresh_url) as session:
        for sid, n in kept.items():
            assert session.get(Story, sid).article_count == n  # type: ignore[union-attr]
    assert None not in grouping(fresh_url).values()


def stored_frequencies(url: str) -> dict[str, int]:
    with db.session_scope(url) as session:
        rows = session.execute(sa.text("SELECT term, articles FROM story_terms")).all()
    return {t: n for t, n in rows if n}


def recounted_frequencies(articles: list[Any]) -> dict[str, int]:
    """The document frequencies counted again from the articles' features."""
    counts: Counter[str] = Counter()
    for a in articles:
        counts.update(stories._features(stories.item_of(a)))
    counts[""] = len(articles)
    return dict(counts)


@BOTH
def test_document_frequencies_counted_in_memory_are_stored_exactly(
    fresh_url: str, corpus: list[StoryArticle], monkeypatch: pytest.MonkeyPatch
):
    """Counted in the process and written in bulk, the frequencies still end up equal
    to a recount from the articles: after a rebuild since a date (which takes its
    articles out, with counts not written yet, and counts them again) and a full one."""
    monkeypatch.setattr(stories, "DF_FLUSH_ARTICLES", 45)
    monkeypatch.setattr(stories, "DF_FLUSH_S", 3600.0)
    articles = [a.article() for a in corpus]
    write(fresh_url, articles, batch=20)
    # Written in bulk, not batch by batch: some are still only in memory.
    assert 0 < stored_frequencies(fresh_url)[""] < len(articles)
    expected = recounted_frequencies(articles)
    stories.rebuild(fresh_url, since=corpus[len(corpus) // 2].published_at)
    assert stored_frequencies(fresh_url) == expected
    stories.rebuild(fresh_url)
    assert stored_frequencies(fresh_url) == expected


@BOTH
def test_a_new_process_weighs_by_the_stored_frequencies(fresh_url: str, corpus: list[StoryArticle]):
    """What one process counted is what the next one reads: a fresh process weighs the
    features by the stored counts, and a rebuild since a date groups the same there as
    in the process that counted every article."""
    write(fresh_url, [a.article() for a in corpus], batch=20)
    mid = corpus[len(corpus) // 2].published_at
    stories.rebuild(fresh_url, since=mid)
    counted_here = partition(fresh_url)
    stories._FREQUENCIES.clear()  # a fresh process: nothing counted in memory
    stories.rebuild(fresh_url, since=mid)
    assert partition(fresh_url) == counted_here
    stored = stored_frequencies(fresh_url)
    with db.session_scope(fresh_url) as session:
        known = stories._frequencies(session).known
    assert len(known) > 100
    assert known == {term: stored.get(term, 0) for term in known}


@BOTH
def test_a_forked_worker_writes_only_its_own_counts(
    fresh_url: str, corpus: list[StoryArticle], monkeypatch: pytest.MonkeyPatch
):
    """A worker child forked from a process holding counts not yet written (prefork
    pool) starts from nothing: otherwise every child would write the parent's counts
    again."""
    monkeypatch.setattr(stories, "DF_FLUSH_ARTICLES", 10_000)
    monkeypatch.setattr(stories, "DF_FLUSH_S", 3600.0)
    articles = [a.article() for a in corpus[:50]]
    write(fresh_url, articles[:40], batch=20)
    assert stored_frequencies(fresh_url) == {}  # the parent's 40 are still in memory
    pid = os.fork()
    if pid == 0:  # the child: store ten more, write what it counted, report
        code = 1
        try:
            db.dispose_engine()
            write(fresh_url, articles[40:], batch=20)
            with db.session_scope(fresh_url) as session:
                stories.write_frequencies(session)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert stored_frequencies(fresh_url) == recounted_frequencies(articles[40:])


# ---------------------------------------------------------------- two writers


def test_two_writers_with_one_event_make_one_story(
    fresh_pg_url: str, corpus: list[StoryArticle], monkeypatch: pytest.MonkeyPatch
):
    """Both writers look for candidates at the same moment when they can: without the
    advisory lock both would find none and start a story each (the control below)."""
    assert _race(fresh_pg_url, corpus, monkeypatch) == 1


def test_two_writers_without_the_lock_make_two_stories(
    fresh_pg_url: str, corpus: list[StoryArticle], monkeypatch: pytest.MonkeyPatch
):
    """Control: the race test can fail. With the lock taken away, the same two writers
    start two stories for one event."""
    monkeypatch.setattr(stories, "LOCK_SQL", "SELECT %s")
    assert _race(fresh_pg_url, corpus, monkeypatch) == 2


def _race(url: str, corpus: list[StoryArticle], monkeypatch: pytest.MonkeyPatch) -> int:
    sizes = Counter(a.event for a in corpus)
    event = max(sizes, key=lambda e: (sizes[e], -e))
    members = [a.article() for a in corpus if a.event == event]
    halves = [members[0::2], members[1::2]]
    both_looking = threading.Barrier(2)
    real = stories._lock_and_prefetch

    def prefetch(*args: Any) -> Any:
        found = real(*args)
        try:  # with the lock the other writer cannot get here: the wait times out
            both_looking.wait(timeout=3)
        except threading.BrokenBarrierError:
            pass
        return found

    monkeypatch.setattr(stories, "_lock_and_prefetch", prefetch)
    errors: list[BaseException] = []

    def writer(batch: list[Any]) -> None:
        try:
            store_batch(batch, url)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(h,)) for h in halves]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    got = grouping(url)
    assert len(got) == len(members) and None not in got.values()
    return len(set(got.values()))


# ---------------------------------------------------------------- the workers' caches


def consistent(url: str) -> None:
    """Every article is in a story that exists, and every story counts its articles."""
    with db.session_scope(url) as session:
        orphans = session.scalar(
            sa.text(
                "SELECT count(*) FROM articles a LEFT JOIN stories s ON s.id = a.story_id "
                "WHERE s.id IS NULL"
            )
        )
        wrong = session.scalar(
            sa.text(
                "SELECT count(*) FROM stories s WHERE s.article_count <> "
                "(SELECT count(*) FROM articles a WHERE a.story_id = s.id)"
            )
        )
        stray_keys = session.scalar(
            sa.text(
                "SELECT count(*) FROM story_keys k LEFT JOIN stories s ON s.id = k.story_id "
                "WHERE s.id IS NULL"
            )
        )
    assert (orphans, wrong, stray_keys) == (0, 0, 0)


class Worker:
    """A store worker of its own: a thread with its own cache of open stories."""

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1)

    def write(self, url: str, articles: list[Any], batch: int = 20) -> None:
        self.pool.submit(write, url, articles, batch).result()

    def close(self) -> None:
        self.pool.shutdown()


@pytest.fixture
def two_pg_urls() -> Iterator[tuple[str, str]]:
    urls = (create_pg_database("nw_stories"), create_pg_database("nw_stories"))
    for url in urls:
        migrate.upgrade(url)
    yield urls
    for url in urls:
        drop_pg_database(url)


@pytest.mark.parametrize("limit", [stories.CHANGES_LIMIT, 1])
def test_workers_taking_turns_group_as_one_worker(
    two_pg_urls: tuple[str, str],
    corpus: list[StoryArticle],
    monkeypatch: pytest.MonkeyPatch,
    limit: int,
):
    """Each worker places its batches against the stories it holds in memory, which
    must include every story the other one wrote meanwhile: taking turns batch by
    batch, two workers group the corpus exactly as one worker does (also when the
    other wrote more than a worker reads as changes, and it loads afresh)."""
    monkeypatch.setattr(stories, "CHANGES_LIMIT", limit)
    alone, shared = two_pg_urls
    articles = [a.article() for a in corpus]
    write(alone, articles, batch=20)
    workers = [Worker(), Worker()]
    try:
        for n, start in enumerate(range(0, len(articles), 20)):
            workers[n % 2].write(shared, articles[start : start + 20])
    finally:
        for w in workers:
            w.close()
    assert partition(shared) == partition(alone)
    consistent(shared)


def test_a_rolled_back_batch_leaves_no_story_behind_in_the_cache(
    two_pg_urls: tuple[str, str], corpus: list[StoryArticle]
):
    """A transaction that clustered and then rolled back (here: the caller failed
    after the clustering) leaves nothing in the worker's memory that the database
    does not have: the next batches group as if it had never happened."""
    from services.store.tasks import cluster_in

    alone, url = two_pg_urls
    articles = [a.article() for a in corpus]
    write(alone, articles, batch=20)
    write(url, articles[:60], batch=20)
    doomed = articles[60:80]
    with pytest.raises(RuntimeError), db.session_scope(url) as session:
        written = upsert_batch(session, doomed).written
        assert cluster_in(session, written, doomed) == len(doomed)
        raise RuntimeError("the commit never happens")
    write(url, articles[60:], batch=20)
    consistent(url)
    assert partition(url) == partition(alone)


def test_a_rebuild_by_another_process_empties_the_workers_cache(
    fresh_pg_url: str, corpus: list[StoryArticle]
):
    """A rebuild dissolves the stories a worker holds in memory: the worker's next
    batch must not join articles to them."""
    articles = [a.article() for a in corpus]
    worker = Worker()
    try:
        worker.write(fresh_pg_url, articles[: len(articles) // 2])
        stories.rebuild(fresh_pg_url)  # this thread: the CLI in another process
        worker.write(fresh_pg_url, articles[len(articles) // 2 :])
    finally:
        worker.close()
    consistent(fresh_pg_url)
    assert None not in grouping(fresh_pg_url).values()


# ---------------------------------------------------------------- API


@pytest.fixture
def client(stories_url: str):
    return make_client(stories_url)


def _all_pages(client: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        r = client.get("/stories", params={**params, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        body = r.json()
        out.extend(body["stories"])
        cursor = body["next_cursor"]
        if not cursor:
            return out


@pytest.mark.parametrize("sort", ["recency", "size", "growth"])
def test_stories_page_through_every_story_once_in_order(client: Any, stories_url: str, sort: str):
    with db.session_scope(stories_url) as session:
        total = session.scalar(sa.text("SELECT count(*) FROM stories"))
    seen = _all_pages(client, {"sort": sort, "limit": 7})
    assert len(seen) == total and len({s["id"] for s in seen}) == total
    key = {"recency": "last_seen", "size": "article_count", "growth": "growth"}[sort]
    values = [s[key] for s in seen]
    assert values == sorted(values, reverse=True)


def test_story_filters(client: Any, stories_url: str, corpus: list[StoryArticle]):
    got = grouping(stories_url)
    sizes = Counter(a.event for a in corpus)
    event = max(sizes, key=lambda e: (sizes[e], -e))
    sample = next(a for a in corpus if a.event == event)
    person = next(n for n, label, _, _ in sample.entities if label == "PERSON")
    code = sample.countries[0][0]
    region_code, region_name, _ = sample.regions[0]

    def ids(**params: Any) -> set[int]:
        return {s["id"] for s in _all_pages(client, {"limit": 50, **params})}

    def stories_of(articles: list[StoryArticle]) -> set[int]:
        return {got[a.id] for a in articles}  # type: ignore[misc]

    assert ids(entity=person.upper()) == stories_of(
        [a for a in corpus if any(n == person for n, *_ in a.entities)]
    )
    assert ids(country=code.lower()) == stories_of([a for a in corpus if a.countries[0][0] == code])
    in_region = stories_of([a for a in corpus if a.regions[0][0] == region_code])
    assert ids(region=region_name.lower()) == in_region == ids(region=region_code)
    both = ids(country=code, entity=person)
    assert both and both <= ids(entity=person)
    sizes_by_story = Counter(got.values())
    assert ids(min_articles=5) == {sid for sid, n in sizes_by_story.items() if n >= 5}
    assert ids(min_articles=5) < ids()
    since = sample.published_at
    until = sample.published_at + timedelta(hours=6)
    for s in _all_pages(client, {"since": since.isoformat(), "until": until.isoformat()}):
        assert s["last_seen"] >= since.isoformat() and s["first_seen"] < until.isoformat()
    # q: full text over the articles; the story of the sampled article is found.
    word = sample.title.split()[-1]
    assert got[sample.id] in ids(q=word)
    assert ids(entity="Nobody At All") == set()


def test_story_detail_lists_articles_once_and_counts_copies(fresh_url: str):
    from testkit.story_corpus import build_story_corpus as build

    corpus = [a for a in build(seed=3, events=12, days=3)]
    sizes = Counter(a.event for a in corpus)
    event = max(sizes, key=lambda e: (sizes[e], -e))
    members = [a.article() for a in corpus if a.event == event]
    # A syndicated copy: another outlet, same text (same content hash).
    copy = members[0].model_copy(update={"id": "copy-of-" + members[0].id[:20], "source": "X"})
    write(fresh_url, [*members, copy])
    client = make_client(fresh_url)
    sid = grouping(fresh_url)[members[0].id]
    r = client.get(f"/stories/{sid}")
    assert r.status_code == 200
    body = r.json()
    assert body["article_count"] == len(members) + 1
    assert body["articles_listed"] == len(members)
    listed = {a["id"]: a for a in body["articles"]}
    pair = [listed.get(copy.id), listed.get(members[0].id)]
    assert pair.count(None) == 1  # one text, listed once ...
    assert next(p for p in pair if p)["copies"] == 2  # ... and counted twice
    assert body["duplicates"] == 1
    assert [a["dated_at"] for a in body["articles"]] == sorted(
        a["dated_at"] for a in body["articles"]
    )
    assert body["countries"][0]["articles"] >= 1 and body["entities"]
    missing = client.get("/stories/999999")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


def test_articles_carry_their_story_and_aggregates_count_stories(client: Any, stories_url: str):
    rows = client.get("/articles", params={"limit": 200}).json()["articles"]
    got = grouping(stories_url)
    assert rows and all(r["story_id"] == got[r["id"]] for r in rows)
    by_articles = client.get("/entities", params={"label": "PERSON", "limit": 200}).json()
    by_stories = client.get(
        "/entities", params={"label": "PERSON", "limit": 200, "count": "stories"}
    ).json()
    articles_of = {e["name"]: e["articles"] for e in by_articles["entities"]}
    for e in by_stories["entities"]:
        assert 1 <= e["stories"] <= articles_of[e["name"]]
    assert any(e["stories"] < e["articles"] for e in by_stories["entities"])
    counts = client.get(
        "/countries", params={"since": "2026-09-01", "count": "stories", "bucket": "month"}
    ).json()
    assert counts["count"] == "stories"
    with db.session_scope(stories_url) as session:
        expected = dict(
            session.execute(
                sa.text(
                    "SELECT c.code, count(DISTINCT a.story_id) FROM article_countries c "
                    "JOIN articles a ON a.id = c.article_id GROUP BY c.code"
                )
            ).all()
        )
    assert {s["code"]: s["total"] for s in counts["series"]} == expected
    assert all("stories" in b for s in counts["series"] for b in s["buckets"])


@pytest.mark.parametrize(
    "params, field",
    [
        ({"sort": "loudest"}, "sort"),
        ({"min_articles": 0}, "min_articles"),
        ({"country": "FRA"}, "country"),
        ({"cursor": "bm9wZQ"}, "cursor"),
        ({"since": "soon"}, "since"),
    ],
)
def test_bad_story_parameters_get_422_with_a_reason(client: Any, params: dict, field: str):
    r = client.get("/stories", params=params)
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "invalid_request" and field in body["message"]


def test_a_cursor_of_another_sort_is_refused(client: Any):
    cursor = client.get("/stories", params={"limit": 1, "sort": "size"}).json()["next_cursor"]
    r = client.get("/stories", params={"sort": "growth", "cursor": cursor})
    assert r.status_code == 422 and "sort=size" in r.json()["message"]


def test_stories_need_the_read_token(env: pytest.MonkeyPatch, fresh_url: str):
    env.setenv("NEWSWIRE_API_READ_TOKEN", "reader-secret")
    env.setenv("NEWSWIRE_API_TOKEN", "writer-secret")
    client = make_client(fresh_url)
    assert client.get("/stories").status_code == 401
    assert client.get("/stories/1").status_code == 401
    ok = client.get("/stories", headers={"Authorization": "Bearer reader-secret"})
    assert ok.status_code == 200


def test_openapi_documents_the_story_routes(client: Any):
    spec = client.get("/openapi.json").json()
    for path in ("/stories", "/stories/{story_id}"):
        assert {"200", "401", "422"} <= set(spec["paths"][path]["get"]["responses"])
    assert "404" in spec["paths"]["/stories/{story_id}"]["get"]["responses"]
    count = spec["paths"]["/countries"]["get"]["parameters"]
    assert any(p["name"] == "count" for p in count)


# ---------------------------------------------------------------- CLI


def run(*args: str) -> tuple[int, str, str]:
    from services.entrypoints.cli import cli

    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_cli_lists_shows_and_rebuilds(
    env: pytest.MonkeyPatch, fresh_url: str, corpus: list[StoryArticle]
):
    import json

    env.setenv("NEWSWIRE_DATABASE_URL", fresh_url)
    write(fresh_url, [a.article() for a in corpus[:80]])
    code, out, _ = run("stories", "--sort", "size", "--json", "--limit", "200")
    assert code == 0
    listed = [json.loads(line) for line in out.splitlines()]
    assert listed and [s["article_count"] for s in listed] == sorted(
        (s["article_count"] for s in listed), reverse=True
    )
    before = partition(fresh_url)
    code, out, err = run("stories", "rebuild", "--quiet")
    assert code == 0 and "grouped 80 articles" in err
    assert partition(fresh_url) == before  # same input order -> same grouping
    code, out, _ = run("stories", "--min-articles", "2")
    assert code == 0 and out.strip()
    sid = grouping(fresh_url)[corpus[0].id]
    code, out, _ = run("stories", "show", str(sid))
    assert code == 0 and corpus[0].title in out
    code, out, _ = run("articles", "--json", "--limit", "5")
    assert code == 0 and all("story_id" in json.loads(line) for line in out.splitlines())
    code, _, err = run("stories", "--country", "France")
    assert code == 2 and "alpha-2" in err


@BOTH
def test_a_failing_clustering_step_loses_nothing(
    fresh_url: str, corpus: list[StoryArticle], monkeypatch: pytest.MonkeyPatch
):
    """The stories are deferred, the articles and their search documents are not."""
    from services.store.repository import search_backlog

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("clustering broke")

    monkeypatch.setattr(stories, "_ranked", broken)
    write(fresh_url, [a.article() for a in corpus[:30]])
    with db.session_scope(fresh_url) as session:
        assert session.scalar(sa.text("SELECT count(*) FROM articles")) == 30
        assert search_backlog(session) == 0  # indexed in the same transaction
        assert stories.backlog(session) == 30
        assert session.scalar(sa.text("SELECT count(*) FROM stories")) == 0
    monkeypatch.undo()
    assert stories.cluster_backlog(fresh_url).articles == 30
    assert None not in grouping(fresh_url).values()


# ---------------------------------------------------------------- placed before the write


def _rows_written_twice(url: str) -> int:
    """Articles whose row was written by another transaction than their tag rows: the
    row was inserted, then updated with its story."""
    with db.session_scope(url) as session:
        return int(
            session.scalar(
                sa.text(
                    "SELECT count(*) FROM articles a WHERE EXISTS (SELECT 1 FROM "
                    "article_entities e WHERE e.article_id = a.id AND e.xmin <> a.xmin)"
                )
            )
        )


def test_new_articles_are_written_once_with_their_story(
    fresh_pg_url: str, corpus: list[StoryArticle]
):
    """On PostgreSQL the store step places new articles before writing them: each row
    is inserted with its story id in the transaction that writes its tags, never
    updated afterwards."""
    write(fresh_pg_url, [a.article() for a in corpus[:80]], batch=20)
    got = grouping(fresh_pg_url)
    assert len(got) == 80 and None not in got.values()
    assert _rows_written_twice(fresh_pg_url) == 0
    consistent(fresh_pg_url)


def test_rows_written_twice_is_seen(fresh_pg_url: str, corpus: list[StoryArticle]):
    """Control for the test above: clustered after the write, the rows are counted."""
    from services.store.tasks import cluster_in

    articles = [a.article() for a in corpus[:20]]
    with db.session_scope(fresh_pg_url) as session:
        written = upsert_batch(session, articles).written
    with db.session_scope(fresh_pg_url) as session:
        assert cluster_in(session, written, articles) == 20
    assert _rows_written_twice(fresh_pg_url) == 20


def test_a_failure_after_the_story_writes_leaves_no_story_and_loses_no_article(
    fresh_pg_url: str, corpus: list[StoryArticle], monkeypatch: pytest.MonkeyPatch
):
    """The placement fails in the database once its stories are written (before the
    articles are): its savepoint takes them back, the articles are written without a
    story, and the sweep places them."""
    real = stories._write_pg
    seen: list[int] = []

    def failing(session: Any, *args: Any) -> None:
        *head, _savepoint, placing = args
        real(session, *head, False, placing)  # the writes, the savepoint kept
        seen.append(session.scalar(sa.text("SELECT count(*) FROM stories")))
        session.execute(sa.text("SELECT 1 / 0"))

    monkeypatch.setattr(stories, "_write_pg", failing)
    write(fresh_pg_url, [a.article() for a in corpus[:40]], batch=20)
    assert seen and all(n > 0 for n in seen)  # the stories were written, then undone
    with db.session_scope(fresh_pg_url) as session:
        assert session.scalar(sa.text("SELECT count(*) FROM articles")) == 40
        assert stories.backlog(session) == 40
        assert session.scalar(sa.text("SELECT count(*) FROM stories")) == 0
        assert session.scalar(sa.text("SELECT count(*) FROM story_keys")) == 0
    monkeypatch.undo()
    assert stories.cluster_backlog(fresh_pg_url).articles == 40
    assert None not in grouping(fresh_pg_url).values()
    consistent(fresh_pg_url)


def test_an_article_left_without_a_story_is_placed_by_a_newer_copy_not_a_stale_one(
    fresh_pg_url: str, corpus: list[StoryArticle]
):
    """A stored article without a story (its clustering failed) is placed when a copy
    that the upsert writes arrives; a stale copy is not written, so it places nothing
    either (no story counts an article that is not in it)."""
    first = corpus[0]
    stored_at = first.published_at + timedelta(days=1)
    with db.session_scope(fresh_pg_url) as session:
        upsert_batch(session, [first.article(enriched_at=stored_at)])
    write(fresh_pg_url, [first.article(enriched_at=stored_at - timedelta(hours=1))])
    assert grouping(fresh_pg_url)[first.id] is None
    with db.session_scope(fresh_pg_url) as session:
        assert session.scalar(sa.text("SELECT count(*) FROM stories")) == 0
    write(fresh_pg_url, [first.article(enriched_at=stored_at + timedelta(hours=1))])
    assert grouping(fresh_pg_url)[first.id] is not None
    consistent(fresh_pg_url)


def test_a_failure_after_the_placement_is_written_keeps_the_articles_with_their_stories(
    fresh_pg_url: str, corpus: list[StoryArticle], monkeypatch: pytest.MonkeyPatch
):
    """Once the stories are written (and the savepoint released) the articles must be
    written into them even if the worker's own bookkeeping then fails: the cache is
    dropped, and the next batches group as one worker does."""
    alone = create_pg_database("nw_stories")
    try:
        migrate.upgrade(alone)
        articles = [a.article() for a in corpus[:80]]
        write(alone, articles, batch=20)

        def broken(*args: Any) -> None:
            raise RuntimeError("bookkeeping broke")

        with monkeypatch.context() as patch:
            patch.setattr(stories, "_watch", broken)
            write(fresh_pg_url, articles[:40], batch=20)
        assert None not in grouping(fresh_pg_url).values()
        consistent(fresh_pg_url)
        write(fresh_pg_url, articles[40:], batch=20)
        consistent(fresh_pg_url)
        assert partition(fresh_pg_url) == partition(alone)
    finally:
        drop_pg_database(alone)
