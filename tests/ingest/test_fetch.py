"""The fetcher against a real local server: guard, redirects, caps, 429, conditional GET."""

from __future__ import annotations

import gzip

import pytest
import redis

from services.ingest import fetch as fetch_mod
from services.ingest.fetch import FetchError, check_url, fetch
from tests.ingest.helpers import Response, Site


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://127.8.9.10:8080/x",
        "http://10.1.2.3/feed",
        "http://172.16.0.1/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[fe80::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://localhost/",
    ],
)
def test_guard_refuses_private_loopback_and_link_local(env: pytest.MonkeyPatch, url: str) -> None:
    with pytest.raises(FetchError) as err:
        check_url(url)
    assert err.value.reason == "blocked_address"
    assert "non-public address" in str(err.value)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/x", "gopher://x/"])
def test_only_http_and_https(env: pytest.MonkeyPatch, url: str) -> None:
    with pytest.raises(FetchError) as err:
        fetch(url)
    assert err.value.reason == "bad_scheme"


def test_guard_is_on_by_default_for_the_local_server(env: pytest.MonkeyPatch, site: Site) -> None:
    site.add("/page", "<p>hi</p>")
    with pytest.raises(FetchError) as err:
        fetch(site.url("/page"))
    assert err.value.reason == "blocked_address"
    assert site.requests == []  # refused before connecting


@pytest.mark.parametrize(
    "target", ["http://localhost:{port}/inner", "http://10.0.0.7/inner", "http://[::1]:{port}/"]
)
def test_redirect_to_private_address_is_refused(
    env: pytest.MonkeyPatch, site: Site, target: str
) -> None:
    # Only the first hop is exempt from the guard; the redirect target is checked again.
    env.setenv("NEWSWIRE_FETCH_ALLOW_HOSTS", f"127.0.0.1:{site.port}")
    env.setenv("NEWSWIRE_FETCH_DOMAIN_INTERVAL", "0")
    site.add("/inner", "secret")
    site.add("/go", status=302, headers={"Location": target.format(port=site.port)})
    with pytest.raises(FetchError) as err:
        fetch(site.url("/go"))
    assert err.value.reason == "blocked_address"
    assert site.hits("/go") == 1
    assert site.hits("/inner") == 0


def test_redirects_are_followed_and_reported(fetch_env: pytest.MonkeyPatch, site: Site) -> None:
    site.add("/old", status=301, headers={"Location": "/middle"})
    site.add("/middle", status=307, headers={"Location": site.url("/new")})
    site.add("/new", "<p>moved</p>", content_type="text/html; charset=utf-8")
    result = fetch(site.url("/old"))
    assert result.url == site.url("/new")
    assert result.redirects == [site.url("/middle"), site.url("/new")]
    assert result.content == b"<p>moved</p>"
    assert result.charset == "utf-8"


def test_redirect_loop_stops(fetch_env: pytest.MonkeyPatch, site: Site) -> None:
    site.add("/a", status=302, headers={"Location": "/b"})
    site.add("/b", status=302, headers={"Location": "/a"})
    with pytest.raises(FetchError) as err:
        fetch(site.url("/a"))
    assert err.value.reason == "too_many_redirects"


def test_gzip_bomb_is_cut_off(fetch_env: pytest.MonkeyPatch, site: Site) -> None:
    fetch_env.setenv("NEWSWIRE_FETCH_MAX_DECOMPRESSED", "2000000")
    bomb = gzip.compress(b"\0" * 20_000_000, compresslevel=9)
    assert len(bomb) < 40_000
    site.add("/bomb.xml", bomb, headers={"Content-Encoding": "gzip"}, content_type="text/xml")
    with pytest.raises(FetchError) as err:
        fetch(site.url("/bomb.xml"))
    assert err.value.reason == "too_large"
    assert "after decompression" in str(err.value)


def test_gzip_within_caps_is_decoded(fetch_env: pytest.MonkeyPatch, site: Site) -> None:
    site.add("/z", gzip.compress(b"hello " * 1000), headers={"Content-Encoding": "gzip"})
    assert fetch(site.url("/z")).content == b"hello " * 1000


def test_raw_size_cap(fetch_env: pytest.MonkeyPatch, site: Site) -> None:
    fetch_env.setenv("NEWSWIRE_FETCH_MAX_BYTES", "5000")
    site.add("/big", b"x" * 20_000)
    with pytest.raises(FetchError) as err:
        fetch(site.url("/big"))
    assert err.value.reason == "too_large"


def test_429_with_short_retry_after_is_waited_out(
    fetch_env: pytest.MonkeyPatch, site: Site
) -> None:
    calls = {"n": 0}

    def flaky(_: dict[str, str]) -> Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return Response(b"slow down", 429, {"Retry-After": "1"})
        return Response(b"<p>ok</p>", 200, {"Content-Type": "text/html"})

    site.routes["/busy"] = flaky
    result = fetch(site.url("/busy"))
    assert result.content == b"<p>ok</p>"
    assert site.hits("/busy") == 2


def test_429_long_retry_after_blocks_the_host_for_every_worker(
    fetch_env: pytest.MonkeyPatch, site: Site, redis_url: str
) -> None:
    # With a broker configured the per-host state lives in Redis, shared by all workers.
    fetch_env.setenv("NEWSWIRE_BROKER_URL", redis_url)
    site.add("/feed", "busy", status=429, headers={"Retry-After": "120"})
    site.add("/other", "<p>fine</p>")
    with pytest.raises(FetchError) as err:
        fetch(site.url("/feed"))
    assert err.value.reason == "rate_limited"
    assert err.value.retry_after == 120
    client = redis.Redis.from_url(redis_url)
    key = fetch_mod._RedisLimiter.PREFIX + f"127.0.0.1:{site.port}"
    assert 100_000 < client.pttl(key) <= 121_000
    # Another request to the same host (any path) is refused without touching it.
    with pytest.raises(FetchError) as err2:
        fetch(site.url("/other"))
    assert err2.value.reason == "rate_limited"
    assert site.hits("/other") == 0
    assert site.hits("/feed") == 1


def test_redis_limiter_spaces_requests_to_one_host(
    fetch_env: pytest.MonkeyPatch, redis_url: str
) -> None:
    fetch_env.setenv("NEWSWIRE_BROKER_URL", redis_url)
    lim = fetch_mod.limiter()
    assert isinstance(lim, fetch_mod._RedisLimiter)
    waits = [lim.reserve("news.example", 2.0) for _ in range(3)]
    # Slots are handed out 2 s apart: the third caller waits about 4 s.
    assert waits[0] < 0.5
    assert 1.5 < waits[1] <= 2.0
    assert 3.5 < waits[2] <= 4.0
    assert lim.reserve("other.example", 2.0) < 0.5


def test_conditional_get_and_304(fetch_env: pytest.MonkeyPatch, site: Site) -> None:
    def feed(headers: dict[str, str]) -> Response:
        if headers.get("if-none-match") == '"v1"':
            return Response(b"", 304, {"ETag": '"v1"'})
        return Response(b"<rss/>", 200, {"ETag": '"v1"', "Last-Modified": "Wed, 06 Dec 2023"})

    site.routes["/feed.xml"] = feed
    first = fetch(site.url("/feed.xml"))
    assert first.status == 200 and first.headers["etag"] == '"v1"'
    second = fetch(site.url("/feed.xml"), etag='"v1"', last_modified="Wed, 06 Dec 2023")
    assert second.not_modified
    assert site.requests[-1][1]["if-modified-since"] == "Wed, 06 Dec 2023"


def test_http_errors_have_reasons(fetch_env: pytest.MonkeyPatch, site: Site) -> None:
    with pytest.raises(FetchError) as err:
        fetch(site.url("/missing"))
    assert err.value.reason == "http_error" and "404" in str(err.value)


@pytest.mark.parametrize("wbits", [15, -15])
def test_deflate_with_and_without_zlib_header(
    fetch_env: pytest.MonkeyPatch, site: Site, wbits: int
) -> None:
    import zlib

    comp = zlib.compressobj(wbits=wbits)
    body = comp.compress(b"deflated " * 500) + comp.flush()
    site.add("/d", body, headers={"Content-Encoding": "deflate"})
    assert fetch(site.url("/d")).content == b"deflated " * 500


def test_unknown_content_encoding_is_refused(fetch_env: pytest.MonkeyPatch, site: Site) -> None:
    site.add("/br", b"\x00\x01", headers={"Content-Encoding": "br"})
    with pytest.raises(FetchError) as err:
        fetch(site.url("/br"))
    assert err.value.reason == "bad_encoding"
