"""``capconnect match``: ranked, explained lists from the database, in the terminal.

The matcher is loaded exactly as the service loads it (:func:`api.loader.load_matcher`): the market is read
from the database, texts are embedded through the on-disk cache (only changed profiles are re-encoded),
the indexes and collaborative model are built, the registry's active model scores the lists (the
transparent content + rules score until one is promoted) and deal lists see the impression log's exposure
counts, so the terminal ranks as a freshly started service does. Each list is printed with its reasons.
"""

from __future__ import annotations

from typing import Literal

import typer
from rich.markup import escape

from api.loader import EmptyMarketError, LoadedMatcher, load_matcher
from cli.commands.common import console, database, fail, settings
from cli.commands.encoder import ensure_encoder
from matching.errors import FieldError, MatchingError
from matching.retrieval.encoder.encoder import load_encoder
from matching.rules.filters import Filters
from matching.serving.matcher import Matcher
from matching.serving.results import MatchItem, MatchList
from matching.snapshot.profiles import yuan

app = typer.Typer(help="Ranked, explained lists (deal lists, suggested investors, secondaries, search).",
                  no_args_is_help=True)


def _load() -> LoadedMatcher:
    s = settings()
    encoder = load_encoder(ensure_encoder(), threads=None)
    with database() as db, db.connect() as conn:
        try:
            return load_matcher(s, conn, encoder, show_progress=True)
        except EmptyMarketError:
            fail("the database holds no enterprises: run `capconnect demo` or import a market first")


Shown = Literal["enterprise", "investor", "secondary"]


def _name(matcher: Matcher, item: MatchItem, shown: Shown) -> str:
    snap = matcher.snap
    if shown == "secondary" and item.secondary_id is not None:
        listing = snap.sec_record[matcher.context.sec_row[item.secondary_id]]
        what = listing.fund_name if listing.kind == "fund_interest" else (
            snap.ent_name[snap.ent_key_row[listing.enterprise_key]] if listing.enterprise_key else listing.ref)
        return f"[{listing.kind}] {what}"
    if shown == "investor" and item.investor_id is not None:
        return snap.inv_name[snap.investor_row[item.investor_id]]
    if item.enterprise_id is not None:
        return snap.ent_name[snap.enterprise_row[item.enterprise_id]]
    return "?"


def _print(matcher: Matcher, result: MatchList, lang: Literal["zh", "en"], shown: Shown) -> None:
    snap = matcher.snap
    console.print(f"[bold]{len(result)} items[/] · model {result.model_version} · as of {result.as_of:%Y-%m-%d}")
    for item in result.items:
        name = _name(matcher, item, shown)
        need = ""
        if item.need_id is not None:
            n = snap.need_record[snap.need_row[item.need_id]]
            need = f" · {n.instrument} {yuan(n.amount)}"
        console.print(f"{item.position:>3}. [bold]{escape(name)}[/]{need} · score {item.score:.3f} · "
                      f"sources {','.join(item.sources)}", highlight=False)
        for r in item.reasons:
            mark = "→" if r.kind == "improve" else "·"
            console.print(f"      {mark} {r.zh if lang == 'zh' else r.en}", highlight=False, markup=False)


def _run(fn, lang: Literal["zh", "en"], shown: Shown) -> None:  # type: ignore[no-untyped-def]
    loaded = _load()
    try:
        result = fn(loaded)
    except (MatchingError, FieldError, KeyError) as exc:
        fail(str(exc))
    _print(loaded.matcher, result, lang, shown)


LANG = typer.Option("zh", "--lang", help="zh or en")


@app.command("deals")
def deals(investor_id: int = typer.Argument(..., help="Investor id (database id)."),
          k: int = typer.Option(10, "-k", min=1, max=200), lang: str = LANG,
          tier: list[str] = typer.Option([], "--tier", help="Narrow to tiers (基础层/basic …)."),
          board: list[str] = typer.Option([], "--board", help="Narrow to boards."),
          district: list[str] = typer.Option([], "--district", help="Narrow to districts.")) -> None:
    """A ranked deal list for an investor, with reasons."""
    f = Filters(tiers=tuple(tier), boards=tuple(board), districts=tuple(district))
    _run(lambda m: m.matcher.recommend_enterprises(investor_id, k, f, exposure=m.market.shown),  # as the API ranks
         lang, "enterprise")  # type: ignore[arg-type]


@app.command("investors")
def investors(enterprise_id: int = typer.Argument(..., help="Enterprise id (database id)."),
              k: int = typer.Option(10, "-k", min=1, max=200), lang: str = LANG) -> None:
    """Suggested funds and financing providers for an enterprise, with reasons."""
    _run(lambda m: m.matcher.recommend_investors(enterprise_id, k), lang, "investor")  # type: ignore[arg-type]


@app.command("secondaries")
def secondaries(investor_id: int = typer.Argument(..., help="An S fund's id."),
                k: int = typer.Option(10, "-k", min=1, max=200), lang: str = LANG) -> None:
    """Secondary opportunities (LP interests, old shares) for an S fund."""
    _run(lambda m: m.matcher.recommend_secondaries(investor_id, k), lang, "secondary")  # type: ignore[arg-type]


@app.command("search")
def search(text: str = typer.Argument(..., help="Free text, e.g. '渝北 锂电池 A轮'."),
           side: str = typer.Option("enterprise", "--side", help="enterprise or investor"),
           k: int = typer.Option(10, "-k", min=1, max=200), lang: str = LANG) -> None:
    """Semantic free-text search of enterprises or investors."""
    if side not in ("enterprise", "investor"):
        fail(f"--side: '{side}': allowed: enterprise, investor")
    _run(lambda m: m.matcher.search(text, side, k), lang, side)  # type: ignore[arg-type]
