"""API keys: created, listed, revoked and verified; the database holds only their SHA-256.

A key reads ``cck_<prefix>_<secret>``: the 8-hex-character prefix is public (it is stored, listed and
logged, so a key can be named without being shown), the secret is 43 URL-safe characters from
:func:`secrets.token_urlsafe`. Only ``sha256(key)`` is stored; verification looks the prefix up and
compares the hashes with :func:`hmac.compare_digest` (constant time).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import dict_row

from matching.domain import vocab
from matching.errors import FieldError

KEY_SCHEME = "cck"
PREFIX_LEN = 8
_COLUMNS = "id, prefix, role, investor_id, enterprise_id, label, created_at, revoked_at"


@dataclass(frozen=True)
class ApiKey:
    """A stored key (never its secret).

    Attributes:
        id: database id.
        prefix: the public part (``cck_<prefix>_…``).
        role: one of :data:`matching.domain.vocab.ROLES`.
        investor_id: the investor an ``investor`` key acts for.
        enterprise_id: the enterprise an ``enterprise`` key acts for.
        label: free text (who holds it).
        created_at: creation time.
        revoked_at: when it was revoked (``None``: valid).
    """

    id: int
    prefix: str
    role: str
    investor_id: int | None
    enterprise_id: int | None
    label: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def revoked(self) -> bool:
        """Whether the key was revoked."""
        return self.revoked_at is not None

    @property
    def shown(self) -> str:
        """How the key is named in listings and logs."""
        return f"{KEY_SCHEME}_{self.prefix}_…"


@dataclass(frozen=True)
class CreatedKey:
    """A new key: ``secret`` is the full key, shown once and never stored."""

    key: ApiKey
    secret: str


def hash_key(presented: str) -> str:
    """Hex SHA-256 of a presented key (what ``api_keys.key_hash`` stores)."""
    return hashlib.sha256(presented.encode("utf-8")).hexdigest()


def split_key(presented: str) -> str | None:
    """The prefix of a well-formed key, else ``None``."""
    head = f"{KEY_SCHEME}_"
    if not presented.startswith(head) or len(presented) < len(head) + PREFIX_LEN + 2:
        return None
    prefix = presented[len(head):len(head) + PREFIX_LEN]
    if presented[len(head) + PREFIX_LEN] != "_" or any(c not in "0123456789abcdef" for c in prefix):
        return None
    return prefix


def create_key(conn: psycopg.Connection, *, role: str, investor_id: int | None = None,
               enterprise_id: int | None = None, label: str = "") -> CreatedKey:
    """Create a key and commit it.

    Args:
        conn: an open connection.
        role: ``admin``, ``operator``, ``investor``, ``enterprise`` or ``data_scientist`` (Chinese labels too).
        investor_id: required for (and only for) ``investor`` keys; must exist.
        enterprise_id: required for (and only for) ``enterprise`` keys; must exist.
        label: who holds the key (at most 200 characters).

    Raises:
        FieldError: an unknown role, a missing or superfluous party, a party that does not exist.
    """
    role = vocab.ROLES.parse(role, "role")
    _check_binding(conn, role, investor_id, enterprise_id)
    if len(label) > 200:
        raise FieldError("label", label, "at most 200 characters")
    prefix = secrets.token_hex(PREFIX_LEN // 2)
    secret = f"{KEY_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
    with conn.transaction():
        row = conn.cursor(row_factory=dict_row).execute(
            f"INSERT INTO api_keys (key_hash, prefix, role, investor_id, enterprise_id, label) "
            f"VALUES (%s, %s, %s, %s, %s, %s) RETURNING {_COLUMNS}",
            (hash_key(secret), prefix, role, investor_id, enterprise_id, label)).fetchone()
    assert row is not None
    return CreatedKey(ApiKey(**row), secret)


def _check_binding(conn: psycopg.Connection, role: str, investor_id: int | None, enterprise_id: int | None) -> None:
    for bound_role, value, table, what in (("investor", investor_id, "investors", "investor_id"),
                                           ("enterprise", enterprise_id, "enterprises", "enterprise_id")):
        if role == bound_role and value is None:
            raise FieldError(what, None, f"an {role} key acts for one {role}: give its id (--for ID)")
        if role != bound_role and value is not None:
            raise FieldError(what, value, f"only {bound_role} keys are bound to a {bound_role}; a {role} key is not")
        if value is not None and conn.execute(f"SELECT 1 FROM {table} WHERE id = %s", (value,)).fetchone() is None:
            raise FieldError(what, value, f"no {bound_role} with this id")


def list_keys(conn: psycopg.Connection, *, include_revoked: bool = True) -> list[ApiKey]:
    """Every key, oldest first."""
    where = "" if include_revoked else "WHERE revoked_at IS NULL"
    rows = conn.cursor(row_factory=dict_row).execute(f"SELECT {_COLUMNS} FROM api_keys {where} ORDER BY id")
    return [ApiKey(**r) for r in rows]


def revoke_key(conn: psycopg.Connection, ref: str) -> ApiKey | None:
    """Revoke a key named by its id, prefix or full key, and end its console sessions; ``None`` when none matches.
    Idempotent."""
    from store.sessions import revoke_for_key  # sessions build on keys

    prefix = split_key(ref) or ref.removeprefix(f"{KEY_SCHEME}_").rstrip("_…")
    with conn.transaction():
        row = conn.cursor(row_factory=dict_row).execute(
            f"UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) "
            f"WHERE (id::text = %s OR prefix = %s) RETURNING {_COLUMNS}", (ref, prefix)).fetchone()
        if row:
            revoke_for_key(conn, row["id"])
    return ApiKey(**row) if row else None


def verify_key(conn: psycopg.Connection, presented: str) -> ApiKey | None:
    """The stored key matching a presented one (revoked keys included: check :attr:`ApiKey.revoked`)."""
    prefix = split_key(presented)
    if prefix is None:
        return None
    digest = hash_key(presented)
    rows = conn.cursor(row_factory=dict_row).execute(
        f"SELECT key_hash, {_COLUMNS} FROM api_keys WHERE prefix = %s", (prefix,)).fetchall()
    found = None
    for row in rows:  # every candidate is compared, in constant time each
        stored = row.pop("key_hash")
        if hmac.compare_digest(stored, digest):
            found = ApiKey(**row)
    return found
