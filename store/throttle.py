"""Failed sign-ins and invalid API keys per client address: rows of ``auth_failures`` (migration 0006), so every
worker counts the same failures. The policy (how many, how long) is :mod:`api.throttle`'s."""

from __future__ import annotations

from datetime import timedelta

import psycopg


def failures(conn: psycopg.Connection, address: str, *, window: timedelta) -> tuple[int, float]:
    """How many failures ``address`` had within ``window``, and the seconds until the oldest of them leaves it."""
    row = conn.execute("SELECT count(*), coalesce(extract(epoch FROM min(failed_at) + %s - now()), 0) "
                       "FROM auth_failures WHERE address = %s AND failed_at > now() - %s",
                       (window, address, window)).fetchone()
    assert row is not None
    return int(row[0]), float(row[1])


def record(conn: psycopg.Connection, address: str, *, window: timedelta) -> None:
    """Count one failure of ``address`` (and forget every failure older than ``window``)."""
    with conn.transaction():
        conn.execute("DELETE FROM auth_failures WHERE failed_at <= now() - %s", (window,))
        conn.execute("INSERT INTO auth_failures (address) VALUES (%s)", (address,))
