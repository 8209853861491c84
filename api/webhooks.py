"""Webhook delivery: signed POSTs of alerts and digests, retried with exponential backoff, every attempt logged.

**The signature.** Each POST carries ``X-Capconnect-Timestamp: <unix seconds>`` and
``X-Capconnect-Signature: sha256=<hex>``, the HMAC-SHA256 of ``"<timestamp>." + body`` under the webhook's secret
(shown once, when the webhook is registered). A receiver recomputes it over the raw body, compares in constant
time, and refuses old timestamps (replays): :func:`verify` is the reference.

**Exactly once for the receiver.** ``X-Capconnect-Alert-Id`` (``alert-<id>`` or ``digest-<id>``) names the
notification; every retry of it carries the same id and the same body, so a receiver that remembers ids it
processed sees each notification once. ``X-Capconnect-Attempt`` counts the tries. A 2xx answer is delivered;
anything else (or no answer within ``webhook_timeout_seconds``) is retried after ``webhook_backoff_seconds ×
2^(attempt−1)``, up to ``webhook_max_attempts``, then marked failed. Every attempt is a row of
``webhook_deliveries`` (status code or error).

**Digests.** An investor that chose ``daily`` or ``weekly`` delivery gets its undelivered alerts collected into
one signed POST per period (``{"type": "digest", "alerts": [...]}``), with the same headers and retries.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import threading
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
import psycopg_pool

from matching.config import Settings
from store import webhooks as db

logger = logging.getLogger(__name__)

SIGNATURE = "X-Capconnect-Signature"
TIMESTAMP = "X-Capconnect-Timestamp"
ALERT_ID = "X-Capconnect-Alert-Id"
ATTEMPT = "X-Capconnect-Attempt"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``"<timestamp>." + body`` under ``secret``."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify(secret: str, headers: dict[str, str], body: bytes, *, tolerance_seconds: float = 300.0,
           now: float | None = None) -> bool:
    """Whether a received POST is ours and fresh (the receiver's check; header names case-insensitive)."""
    h = {k.lower(): v for k, v in headers.items()}
    try:
        ts = int(h[TIMESTAMP.lower()])
    except (KeyError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - ts) > tolerance_seconds:
        return False
    return hmac.compare_digest(h.get(SIGNATURE.lower(), ""), sign(secret, ts, body))


def url_problem(url: str, *, allow_private: bool) -> tuple[str, str] | None:
    """Why a webhook URL is refused, ``(Chinese, English)`` (``None``: fine): http(s) only, a host, and unless
    ``allow_private`` no loopback, private, link-local or reserved address (the service must not be made to call
    its own network)."""
    try:  # urlsplit refuses a broken IPv6 literal, .port one out of range: both ValueError
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return ("带主机名、端口在 1–65535 之间的 http:// 或 https:// 地址",
                "an http:// or https:// URL with a host and a port in 1–65535")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "带主机名的 http:// 或 https:// 地址", "an http:// or https:// URL with a host"
    if allow_private:
        return None
    # a name that does not resolve and one that resolves to an internal address get the same answer, without the
    # address: the caller must not map the service's network (its DNS) through this message
    hidden = (f"解析为公网地址的主机（{parts.hostname} 不是）",
              f"a host that resolves to public addresses only ({parts.hostname} does not)")
    try:
        addrs = {a[4][0] for a in socket.getaddrinfo(parts.hostname, port or 443, proto=socket.IPPROTO_TCP)}
    except (OSError, UnicodeError):  # UnicodeError: a label empty or over 63 characters (IDNA), e.g. "a..b"
        return hidden
    for a in addrs:
        ip = ipaddress.ip_address(a.split("%")[0])
        if not public(ip):
            if _literal(parts.hostname):  # the caller wrote the address: naming it tells nothing
                return f"公网地址（{parts.hostname} 是 {ip}）", f"a public address ({parts.hostname} is {ip})"
            return hidden
    return None


def _literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether a webhook may be posted to ``ip``: a global unicast address, and so is the IPv4 address an
    IPv4-mapped or 6to4 one carries (100.64.0.0/10, the cloud metadata address 100.100.100.200, is not global)."""
    inner = getattr(ip, "ipv4_mapped", None) or getattr(ip, "sixtofour", None)
    return ip.is_global and not ip.is_multicast and (inner is None or public(inner))


class _Deadline(httpcore.NetworkStream):
    """A connection whose reads and writes all end by one deadline: httpcore's timeout bounds each operation, so a
    receiver sending a byte at a time would hold the delivery thread (every investor's alerts) indefinitely."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: float) -> None:
        self.stream, self.deadline = stream, deadline

    def _left(self, timeout: float | None, error: type[Exception]) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise error("the receiver took longer than webhook_timeout_seconds in all")
        return left if timeout is None else min(timeout, left)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.stream.read(max_bytes, self._left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.stream.write(buffer, self._left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self.stream.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
                  ) -> httpcore.NetworkStream:
        tls = self.stream.start_tls(ssl_context, server_hostname, self._left(timeout, httpcore.ConnectTimeout))
        return _Deadline(tls, self.deadline)

    def get_extra_info(self, info: str) -> Any:
        return self.stream.get_extra_info(info)


class _Backend(httpcore.SyncBackend):
    """Each connection has ``seconds`` in all (:class:`_Deadline`); with ``public_only`` it connects only to public
    addresses, resolving the name itself: the address checked is the address connected to (a name that answers a
    public address to :func:`url_problem` and a private one to the connection, DNS rebinding, is refused). TLS
    still verifies the URL's host name."""

    def __init__(self, *, seconds: float, public_only: bool) -> None:
        self.seconds, self.public_only = seconds, public_only

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> httpcore.NetworkStream:
        deadline = time.monotonic() + self.seconds
        if self.public_only:
            try:
                addrs = [a[4][0] for a in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)]
            except OSError as exc:  # the delivery log is the investor's: the same words as url_problem, no address
                raise httpcore.ConnectError(f"refused: {host} does not resolve to public addresses only") from exc
            if not addrs or not all(public(ipaddress.ip_address(a.split("%")[0])) for a in addrs):
                raise httpcore.ConnectError(f"refused: {host} does not resolve to public addresses only")
            host = addrs[0]
        return _Deadline(super().connect_tcp(host, port, timeout, local_address, socket_options), deadline)


def client(settings: Settings) -> httpx.Client:
    """The delivery client: no redirects, no proxies from the environment, one connection per post with
    ``webhook_timeout_seconds`` in all, and unless ``webhook_allow_private`` public addresses only (:class:`_Backend`).
    """
    transport = httpx.HTTPTransport()  # httpx takes no network backend: its pool is rebuilt with ours
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(), max_keepalive_connections=0,
        network_backend=_Backend(seconds=settings.webhook_timeout_seconds,
                                 public_only=not settings.webhook_allow_private))
    return httpx.Client(timeout=settings.webhook_timeout_seconds, follow_redirects=False, trust_env=False,
                        transport=transport)


def post_status(c: httpx.Client, url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST ``body`` and return the answer's status code, never reading the answer's body (a receiver's endless
    answer must not fill the service's memory)."""
    with c.stream("POST", url, content=body, headers=headers) as response:
        return response.status_code


class Deliverer:
    """The delivery loop: a thread that posts what is due while ``leader`` is set (one process delivers).

    Args:
        pool: the service's connection pool.
        settings: timeout, backoff, attempts, whether private addresses may be called.
        leader: set while this process holds the alert engine's lock.
    """

    def __init__(self, pool: psycopg_pool.ConnectionPool, settings: Settings, leader: threading.Event) -> None:
        self.pool, self.settings, self.leader = pool, settings, leader
        self._stop, self._wake = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhook-delivery", daemon=True)
        self._client = client(settings)

    def start(self) -> Deliverer:
        """Start the loop."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the loop (after the post in flight)."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=self.settings.webhook_timeout_seconds + 10)
        self._client.close()

    def wake(self) -> None:
        """Look for due notifications now (new alerts were written)."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.settings.webhook_poll_seconds)
            self._wake.clear()
            if not self.leader.is_set():
                continue
            try:
                while self.deliver_once() and not self._stop.is_set():
                    pass
            except Exception:  # the database is down, …: the next round tries again
                logger.exception("webhook delivery round failed")

    def deliver_once(self) -> int:
        """Make due digests, then post every due alert and digest once; returns how many attempts were made."""
        hold = self.settings.webhook_timeout_seconds + 30
        with self.pool.connection() as conn:
            db.make_digests(conn, datetime.now(UTC))
            alerts = db.claim_due(conn, "alert", hold_seconds=hold)
            digests = db.claim_due(conn, "digest", hold_seconds=hold)
            bodies = {d["id"]: db.digest_bodies(conn, d["id"]) for d in digests}
        for row in alerts:
            self._post("alert", row, {"id": f"alert-{row['id']}", "type": "alert", "alert": row["body"]})
        for row in digests:
            self._post("digest", row, {"id": f"digest-{row['id']}", "type": "digest",
                                       "alerts": bodies[row["id"]]})
        return len(alerts) + len(digests)

    def _post(self, kind: db.Kind, row: dict[str, Any], payload: dict[str, Any]) -> None:
        body = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
        ts = int(time.time())
        headers = {"Content-Type": "application/json", ALERT_ID: payload["id"], TIMESTAMP: str(ts),
                   SIGNATURE: sign(row["secret"], ts, body), ATTEMPT: str(row["attempt"]),
                   "User-Agent": "capconnect-webhooks/1"}
        status, error = None, None
        problem = url_problem(row["url"], allow_private=self.settings.webhook_allow_private)
        if problem is not None:
            error = f"refused: the URL must be {problem[1]}"
        else:
            try:
                status = post_status(self._client, row["url"], body, headers)
            except (httpx.HTTPError, httpx.InvalidURL, ValueError, UnicodeError) as exc:
                # every failure is an attempt recorded (and retried or given up), never a round aborted
                error = f"{type(exc).__name__}: {exc}"[:500]
        delivered = status is not None and 200 <= status < 300
        attempt = int(row["attempt"])
        retry = None if delivered or attempt >= self.settings.webhook_max_attempts else \
            self.settings.webhook_backoff_seconds * 2 ** (attempt - 1)
        with self.pool.connection() as conn:
            db.record_attempt(conn, kind, row, notification_id=payload["id"], status_code=status, error=error,
                              delivered=delivered, retry_in=retry)
        if not delivered:
            logger.warning("webhook %s attempt %d to investor %s: %s%s", payload["id"], attempt, row["investor_id"],
                           status if status is not None else error,
                           f"; retry in {retry:g} s" if retry is not None else "; given up")
        if retry is not None:  # no need to wait for the next poll
            timer = threading.Timer(retry + 0.05, self.wake)
            timer.daemon = True
            timer.start()
