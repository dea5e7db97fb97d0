"""Polite, hostile-input-safe HTTP fetching.

- http/https only; every address a host resolves to must be public (private, loopback,
  link-local, multicast, reserved and unspecified are refused), checked again after
  every redirect, which is followed by hand;
- timeouts per operation and for the whole fetch;
- caps on raw bytes and on bytes after gzip/deflate decoding (a gzip bomb is cut off
  after ``max_decompressed`` bytes, never inflated in full);
- one request per ``domain_interval`` per host across every worker (Redis when a
  broker is configured, in-process when embedded); a 429 blocks the host for its
  ``Retry-After`` for everyone;
- conditional GET (``If-None-Match`` / ``If-Modified-Since``), 304 reported as such.
"""

from __future__ import annotations

import email.utils
import ipaddress
import os
import socket
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, cast
from urllib.parse import urljoin, urlsplit

import httpx

from services.ingest.config import FetchSettings, fetch_settings
from shared.logging import get_logger
from shared.settings import get_settings

log = get_logger(__name__)

REDIRECTS = {301, 302, 303, 307, 308}


class FetchError(Exception):
    """A fetch that failed for a reason an operator can read (``reason: detail``)."""

    def __init__(self, reason: str, detail: str = "", *, retry_after: float | None = None):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.retry_after = retry_after


@dataclass
class FetchResult:
    url: str  # final URL after redirects
    status: int
    content: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    redirects: list[str] = field(default_factory=list)
    permanent: bool = False  # every redirect was 301/308: the old URL is gone for good

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def charset(self) -> str | None:
        for part in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = part.partition("=")
            if key.strip().lower() == "charset" and value.strip():
                return value.strip().strip("\"'")
        return None


# ---------------------------------------------------------------- address guard


def _blocked_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def _allowed_host(host: str, port: int | None, cfg: FetchSettings) -> bool:
    allowed = {h.strip().lower() for h in cfg.allow_hosts.split(",") if h.strip()}
    return host in allowed or (port is not None and f"{host}:{port}" in allowed)


def check_url(url: str, cfg: FetchSettings | None = None) -> None:
    """Raise :class:`FetchError` unless ``url`` is http(s) to a public address."""
    cfg = cfg or fetch_settings()
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # "http://[::1"
        raise FetchError("bad_url", f"malformed URL {url[:200]!r}: {exc}") from exc
    if parts.scheme.lower() not in {"http", "https"}:
        raise FetchError("bad_scheme", f"only http and https are fetched, not {parts.scheme!r}")
    host = (parts.hostname or "").lower()
    if not host:
        raise FetchError("bad_url", f"no host in {url[:200]!r}")
    try:
        port = parts.port
    except ValueError as exc:
        raise FetchError("bad_url", str(exc)) from exc
    if cfg.allow_private or _allowed_host(host, port, cfg):
        return
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP)
        except (socket.gaierror, UnicodeError) as exc:
            raise FetchError("dns_error", f"cannot resolve {host}: {exc}") from exc
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    for ip in addresses:
        if _blocked_ip(ip):
            allow = f"{host}:{port}" if port else host
            raise FetchError(
                "blocked_address",
                f"{host} resolves to non-public address {ip}; to fetch from it on purpose "
                "(a server on this machine or your network), set "
                f"NEWSWIRE_FETCH_ALLOW_HOSTS={allow}",
            )


# ---------------------------------------------------------------- per-host politeness


class _LocalLimiter:
    """In-process: next allowed time per host."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next: dict[str, float] = {}

    def reserve(self, host: str, interval: float, max_wait: float = float("inf")) -> float:
        """Claim the next slot: seconds to wait before using it, or minus the wait
        (nothing claimed) when that is longer than ``max_wait``."""
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next.get(host, 0.0))
            if slot - now > max_wait:
                return -(slot - now)
            self._next[host] = slot + interval
            return slot - now

    def block(self, host: str, seconds: float) -> None:
        with self._lock:
            self._next[host] = max(self._next.get(host, 0.0), time.monotonic() + seconds)

    def blocked_for(self, host: str) -> float:
        with self._lock:
            return max(0.0, self._next.get(host, 0.0) - time.monotonic())


# Atomically claim the next slot of a host: the milliseconds to wait, or minus the
# wait (nothing claimed) when it is longer than ARGV[2].
_RESERVE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(now, nxt)
if slot - now > tonumber(ARGV[2]) then
  return -(slot - now)
end
local interval = tonumber(ARGV[1])
redis.call('SET', KEYS[1], slot + interval, 'PX', slot + interval - now + 1000)
return slot - now
"""

_BLOCK_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = now + tonumber(ARGV[1])
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ms > nxt then
  redis.call('SET', KEYS[1], until_ms, 'PX', until_ms - now + 1000)
end
return until_ms
"""


class _RedisLimiter:
    """Shared by every worker: one key per host holding the next allowed time (ms)."""

    PREFIX = "newswire:fetch:next:"

    def __init__(self, url: str) -> None:
        import redis  # deferred on purpose: 130 ms, only with a broker (shared limits)

        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._reserve = self.client.register_script(_RESERVE_LUA)
        self._block = self.client.register_script(_BLOCK_LUA)

    def reserve(self, host: str, interval: float, max_wait: float = 1e9) -> float:
        wait_ms = self._reserve(
            keys=[self.PREFIX + host], args=[int(interval * 1000), int(max_wait * 1000)]
        )
        return int(wait_ms) / 1000

    def block(self, host: str, seconds: float) -> None:
        self._block(keys=[self.PREFIX + host], args=[int(seconds * 1000)])

    def blocked_for(self, host: str) -> float:
        raw = cast(bytes | None, self.client.get(self.PREFIX + host))
        if raw is None:
            return 0.0
        now_s, now_us = cast(tuple[int, int], self.client.time())
        return max(0.0, (int(raw) - (now_s * 1000 + now_us // 1000)) / 1000)


_local = _LocalLimiter()


@lru_cache(maxsize=4)
def _redis_limiter(url: str) -> _RedisLimiter:
    return _RedisLimiter(url)


def limiter() -> _LocalLimiter | _RedisLimiter:
    broker = get_settings().broker_url
    if broker and broker.startswith(("redis://", "rediss://", "unix://")):
        return _redis_limiter(broker)
    return _local


def _host_key(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return f"{host}:{parts.port}" if parts.port else host


def _wait_turn(url: str, cfg: FetchSettings) -> None:
    host = _host_key(url)
    wait = limiter().reserve(host, cfg.domain_interval, cfg.max_wait + cfg.domain_interval)
    if wait < 0:  # blocked by a Retry-After, or too many fetches queued for this host
        raise FetchError(
            "rate_limited", f"{host} is not to be fetched for {-wait:.0f} s", retry_after=-wait
        )
    if wait > 0:
        time.sleep(wait)


def parse_retry_after(value: str | None, default: float = 60.0) -> float:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP-date)."""
    if not value:
        return default
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


# ---------------------------------------------------------------- body reading


class _Decoder:
    """gzip/deflate decoding with a cap on the output, fed chunk by chunk."""

    def __init__(self, encoding: str, cap: int) -> None:
        self.cap = cap
        self.size = 0
        self.encodings = [e.strip().lower() for e in encoding.split(",") if e.strip()]
        self.encodings = [e for e in self.encodings if e != "identity"]
        for enc in self.encodings:
            if enc not in {"gzip", "x-gzip", "deflate"}:
                raise FetchError("bad_encoding", f"unsupported Content-Encoding {enc!r}")
        if len(self.encodings) > 1:
            raise FetchError("bad_encoding", "stacked Content-Encodings are refused")
        self.obj: Any = None
        self.raw_tried = False
        if self.encodings:
            # 47 = gzip or zlib header auto-detected; raw deflate handled on error.
            self.obj = zlib.decompressobj(47)

    def feed(self, data: bytes) -> bytes:
        if self.obj is None:
            out = data
        else:
            out = b""
            pending = data
            while pending:
                room = self.cap - self.size - len(out) + 1
                if room <= 0:
                    break
                try:
                    chunk = self.obj.decompress(pending, room)
                except zlib.error as exc:
                    if self.size == 0 and not out and not self.raw_tried:
                        # "deflate" sent as raw DEFLATE without the zlib header (common).
                        self.raw_tried = True
                        self.obj = zlib.decompressobj(-15)
                        continue
                    raise FetchError("bad_encoding", f"corrupt compressed body: {exc}") from exc
                out += chunk
                pending = self.obj.unconsumed_tail
                if self.size + len(out) > self.cap:
                    break
        self.size += len(out)
        if self.size > self.cap:
            raise FetchError(
                "too_large", f"body over {self.cap} bytes after decompression (gzip bomb?)"
            )
        return out


def gunzip_capped(data: bytes, cap: int) -> bytes:
    """Decompress a gzip file (e.g. ``sitemap.xml.gz``) without inflating past ``cap``."""
    dec = _Decoder("gzip", cap)
    return dec.feed(data)


# ---------------------------------------------------------------- fetch


_clients: dict[tuple[int, float, str], httpx.Client] = {}
_clients_lock = threading.Lock()


def _client(cfg: FetchSettings) -> httpx.Client:
    """One pooled client per process (and settings): TLS context and connections reused."""
    key = (os.getpid(), cfg.timeout, cfg.user_agent)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _new_client(cfg)
            _clients[key] = client
        return client


def _new_client(cfg: FetchSettings) -> httpx.Client:
    return httpx.Client(
        timeout=httpx.Timeout(cfg.timeout),
        follow_redirects=False,
        trust_env=False,  # no proxies from the environment: the guard must see the real host
        headers={
            "User-Agent": cfg.user_agent,
            "Accept-Encoding": "gzip, deflate",
        },
    )


def fetch(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    accept: str = "*/*",
    cfg: FetchSettings | None = None,
    client_factory: Callable[[FetchSettings], httpx.Client] = _client,
) -> FetchResult:
    """GET ``url`` safely; raises :class:`FetchError` with a reason on any refusal."""
    cfg = cfg or fetch_settings()
    deadline = time.monotonic() + cfg.total_timeout
    headers = {"Accept": accept}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    redirects: list[str] = []
    permanent = True
    current = url
    retried_429 = False
    client = client_factory(cfg)
    while True:
        check_url(current, cfg)
        _wait_turn(current, cfg)
        try:
            result = _get_once(client, current, headers, cfg, deadline)
        except httpx.TimeoutException as exc:
            raise FetchError("timeout", f"{current}: {type(exc).__name__}") from exc
        except httpx.HTTPError as exc:
            raise FetchError("network_error", f"{current}: {exc}") from exc
        if result.status in REDIRECTS:
            location = result.headers.get("location")
            if not location:
                raise FetchError("bad_redirect", f"{result.status} without Location")
            if len(redirects) >= cfg.max_redirects:
                raise FetchError("too_many_redirects", f"more than {cfg.max_redirects}")
            current = urljoin(current, location)
            redirects.append(current)
            permanent = permanent and result.status in {301, 308}
            log.debug("fetch_redirected", url=url, location=current)
            continue
        if result.status == 429 or (result.status == 503 and "retry-after" in result.headers):
            wait = parse_retry_after(result.headers.get("retry-after"))
            limiter().block(_host_key(current), wait)
            log.warning("fetch_rate_limited", url=current, retry_after=wait)
            if not retried_429 and wait <= cfg.max_wait:
                retried_429 = True
                continue  # _wait_turn sleeps until the host's Retry-After is over
            raise FetchError(
                "rate_limited",
                f"{result.status} from {_host_key(current)}, Retry-After {wait:.0f} s",
                retry_after=wait,
            )
        result.url = current
        result.redirects = redirects
        result.permanent = bool(redirects) and permanent
        if result.status == 304:
            return result
        if result.status >= 400:
            raise FetchError("http_error", f"HTTP {result.status} for {current}")
        return result


def _get_once(
    client: httpx.Client,
    url: str,
    headers: dict[str, str],
    cfg: FetchSettings,
    deadline: float,
) -> FetchResult:
    with client.stream("GET", url, headers=headers) as resp:
        hdrs = {k.lower(): v for k, v in resp.headers.items()}
        result = FetchResult(url=url, status=resp.status_code, headers=hdrs)
        if resp.status_code in REDIRECTS or resp.status_code == 304 or resp.status_code >= 400:
            return result
        length = hdrs.get("content-length")
        if length and length.isdigit() and int(length) > cfg.max_bytes:
            raise FetchError("too_large", f"Content-Length {length} over {cfg.max_bytes} bytes")
        decoder = _Decoder(hdrs.get("content-encoding", ""), cfg.max_decompressed)
        raw = 0
        parts: list[bytes] = []
        for chunk in resp.iter_raw():
            raw += len(chunk)
            if raw > cfg.max_bytes:
                raise FetchError("too_large", f"body over {cfg.max_bytes} bytes")
            if time.monotonic() > deadline:
                raise FetchError("timeout", f"{url}: over {cfg.total_timeout} s in total")
            parts.append(decoder.feed(chunk))
        result.content = b"".join(parts)
        return result
