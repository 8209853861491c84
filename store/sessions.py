"""Console sessions: rows of ``web_sessions`` (migration 0006); the browser holds a random token, the row its hash.

A session acts for one API key. It is valid while it is not revoked, its key is not revoked, its absolute
expiry (``expires_at``, set at sign-in) has not passed and it was last seen less than the idle limit ago;
every check happens in one query on the database's clock. Sign-out revokes it (``signed_out``), revoking
the key revokes all of them (``key_revoked``, :func:`store.keys.revoke_key`). Each session carries
its own CSRF token: a form is accepted only with the token of the session that sends it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

import psycopg
from psycopg.rows import dict_row

from store.keys import ApiKey, hash_key

#: A session's ``last_seen_at`` is written at most this often (not on every request).
TOUCH_EVERY = timedelta(seconds=30)
#: Ended sessions are deleted this long after their absolute expiry.
KEEP_ENDED = timedelta(days=30)


@dataclass(frozen=True)
class WebSession:
    """A valid session.

    Attributes:
        id: the SHA-256 of the cookie's token.
        csrf: the CSRF token bound to this session.
        key: the API key it acts for.
    """

    id: str
    csrf: str
    key: ApiKey


def create(conn: psycopg.Connection, key: ApiKey, *, lifetime: timedelta) -> tuple[str, WebSession]:
    """Start a session for ``key`` lasting at most ``lifetime``; returns the cookie's token (never stored) and it.

    Sessions that ended more than :data:`KEEP_ENDED` ago are deleted on the way.
    """
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with conn.transaction():
        conn.execute("DELETE FROM web_sessions WHERE expires_at < now() - %s", (KEEP_ENDED,))
        conn.execute("INSERT INTO web_sessions (id, api_key_id, csrf, expires_at) VALUES (%s, %s, %s, now() + %s)",
                     (hash_key(token), key.id, csrf, lifetime))
    return token, WebSession(hash_key(token), csrf, key)


def lookup(conn: psycopg.Connection, token: str, *, idle: timedelta) -> tuple[WebSession | None, bool]:
    """The valid session of a cookie's token, and whether the token names a session at all.

    ``(None, False)``: no such session (a guess, or one deleted long ago); ``(None, True)``: it ended (expired,
    signed out, its key revoked). A valid session's ``last_seen_at`` moves to now (at most every
    :data:`TOUCH_EVERY`).
    """
    row = conn.cursor(row_factory=dict_row).execute(
        "SELECT s.id AS session_id, s.csrf, k.id, k.prefix, k.role, k.investor_id, k.enterprise_id, k.label, "
        "k.created_at, k.revoked_at, s.revoked_at IS NULL AND k.revoked_at IS NULL AND s.expires_at > now() "
        "AND s.last_seen_at > now() - %s AS valid, s.last_seen_at < now() - %s AS stale "
        "FROM web_sessions s JOIN api_keys k ON k.id = s.api_key_id WHERE s.id = %s",
        (idle, TOUCH_EVERY, hash_key(token))).fetchone()
    if row is None:
        return None, False
    session_id, csrf, valid, stale = row.pop("session_id"), row.pop("csrf"), row.pop("valid"), row.pop("stale")
    key = ApiKey(**row)
    if key.revoked:
        revoke_for_key(conn, key.id)
    if not valid:
        return None, True
    if stale:
        conn.execute("UPDATE web_sessions SET last_seen_at = now() WHERE id = %s", (session_id,))
    return WebSession(session_id, csrf, key), True


def revoke(conn: psycopg.Connection, session_id: str, reason: str = "signed_out") -> None:
    """End one session (sign-out)."""
    conn.execute("UPDATE web_sessions SET revoked_at = now(), revoked_reason = %s "
                 "WHERE id = %s AND revoked_at IS NULL", (reason, session_id))


def revoke_for_key(conn: psycopg.Connection, key_id: int) -> int:
    """End every session of a key (its key was revoked); returns how many were open."""
    return conn.execute("UPDATE web_sessions SET revoked_at = now(), revoked_reason = 'key_revoked' "
                        "WHERE api_key_id = %s AND revoked_at IS NULL", (key_id,)).rowcount
