"""Attacks, round 2, on today's surfaces (alerts and webhooks, syndicates, model archives): what a party may not
see must not reach it (or the service's own network) by any route, and bad input is a 4xx that loses nothing."""

from __future__ import annotations

import http.server
import socket
import threading
from typing import Any

import httpx
import pytest

from api.webhooks import Deliverer, url_problem
from matching.config import Settings


# -- webhooks: the service must not be made to call its own network -------------------------------------------
@pytest.mark.parametrize("url", [
    "http://100.100.100.200/latest/meta-data/",  # Alibaba Cloud's instance metadata (shared address space)
    "http://100.64.0.1/",  # carrier-grade NAT, 100.64.0.0/10: neither private nor global
    "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "http://[::ffff:100.100.100.200]/",  # IPv4-mapped metadata address
    "http://0.0.0.0:8000/",
])
def test_a_webhook_may_not_name_a_non_public_address(url: str) -> None:
    assert url_problem(url, allow_private=False) is not None, url


class _Hits(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_POST(self) -> None:  # noqa: N802
        _Hits.hits.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_dns_rebinding_cannot_point_a_checked_webhook_at_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """The URL is checked when registered and before each post, but the post resolved the name again: a name that
    answers a public address to the check and 127.0.0.1 to the connection (DNS rebinding) reached the service's
    own loopback. The connection must go to the address that was checked (or be refused)."""
    server = http.server.HTTPServer(("127.0.0.1", 0), _Hits)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    real = socket.getaddrinfo
    answers = iter(["93.184.216.34"])

    def rebinding(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "rebind.example":
            ip = next(answers, "127.0.0.1")  # public once (the check), loopback from then on
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    _Hits.hits.clear()
    deliverer = Deliverer(None, Settings(webhook_timeout_seconds=2.0), threading.Event())  # type: ignore[arg-type]
    try:
        url = f"http://rebind.example:{port}/hook"
        assert url_problem(url, allow_private=False) is None  # the check saw the public address
        with pytest.raises(httpx.HTTPError):
            deliverer._client.post(url, content=b"{}")
        assert _Hits.hits == []
    finally:
        deliverer._client.close()
        server.shutdown()
