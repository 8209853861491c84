"""``capconnect keys create | list | revoke``: API keys of the service (stored as hashes only)."""

from __future__ import annotations

import typer

from cli.commands.common import console, database, err_console, fail
from matching.domain import vocab
from matching.errors import FieldError
from store import keys as keys_db

app = typer.Typer(help="API keys: create (shown once), list, revoke.", no_args_is_help=True)


def _party(role: str, party: int | None) -> tuple[int | None, int | None]:
    if role == "investor":
        return party, None
    if role == "enterprise":
        return None, party
    if party is not None:
        fail(f"--for binds investor and enterprise keys only; a {role} key acts for the whole platform")
    return None, None


@app.command("create")
def create(
    role: str = typer.Option(..., "--role", help=f"One of: {', '.join(vocab.ROLES.codes)}."),
    party: int = typer.Option(None, "--for", help="The investor id (investor keys) or enterprise id (enterprise keys)"),
    label: str = typer.Option("", "--label", help="Who holds the key."),
) -> None:
    """Create a key and print it once (only its SHA-256 is stored: it cannot be shown again)."""
    try:
        code = vocab.ROLES.parse(role, "role")
    except FieldError as exc:
        fail(f"--role {exc.value}: {exc.reason}")
    investor_id, enterprise_id = _party(code, party)
    with database() as db, db.connect() as conn:
        try:
            created = keys_db.create_key(conn, role=code, investor_id=investor_id, enterprise_id=enterprise_id,
                                         label=label)
        except FieldError as exc:
            fail(f"{'--for' if exc.field in ('investor_id', 'enterprise_id') else exc.field} "
                 f"{exc.value}: {exc.reason}")
    k = created.key
    bound = f" for investor {k.investor_id}" if k.investor_id else (
        f" for enterprise {k.enterprise_id}" if k.enterprise_id else "")
    err_console.print(f"created {k.role} key #{k.id} {k.shown}{bound}; it is shown once, store it now:")
    console.print(created.secret, highlight=False, soft_wrap=True)


@app.command("list")
def list_(
    all_: bool = typer.Option(False, "--all", help="Include revoked keys."),
) -> None:
    """List keys (prefix, role, party, label, dates); never their secrets."""
    with database() as db, db.connect() as conn:
        rows = keys_db.list_keys(conn, include_revoked=all_)
    for k in rows:  # one plain line per key: greppable, never wrapped
        party = f"investor {k.investor_id}" if k.investor_id else (
            f"enterprise {k.enterprise_id}" if k.enterprise_id else "-")
        revoked = f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "valid"
        console.print(f"#{k.id:<5} {k.shown:<15} {k.role:<15} {party:<18} created {k.created_at:%Y-%m-%d %H:%M}  "
                      f"{revoked:<24} {k.label}", highlight=False, markup=False)
    if not rows:
        console.print("no keys: create one with `capconnect keys create --role admin`")


@app.command("revoke")
def revoke(ref: str = typer.Argument(..., help="The key's id, prefix or the full key.")) -> None:
    """Revoke a key (requests with it are refused from now on; running twice is harmless)."""
    with database() as db, db.connect() as conn:
        k = keys_db.revoke_key(conn, ref)
    if k is None:
        fail(f"no key with id or prefix {ref!r}: see `capconnect keys list --all`")
    console.print(f"revoked {k.role} key #{k.id} {k.shown} at {k.revoked_at:%Y-%m-%d %H:%M:%S}")
