"""`capconnect match`: explained lists from a market stored in PostgreSQL, with the real encoder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers_api import api_service, serve_trained_model


def test_deal_list_from_the_database_respects_the_mandate(cli_with_encoder, db) -> None:
    cli = cli_with_encoder
    assert cli("generate", "-e", "150", "-i", "20", "-m", "3", "-s", "2").exit_code == 0
    with db.connect() as conn:
        vc, instruments = conn.execute(
            "SELECT i.id, m.instruments FROM investors i "
            "JOIN mandates m ON m.investor_id = i.id AND m.valid_to IS NULL "
            "WHERE i.investor_type = 'vc' AND i.status <> 'inactive' AND cardinality(m.sectors) > 0 "
            "ORDER BY i.id LIMIT 1").fetchone()
        non_s_fund = vc
    result = cli("match", "deals", str(vc), "-k", "5")
    assert result.exit_code == 0, result.stderr
    items = re.findall(r"^\s+(\d+)\. (.+?) · (\w+) ([\d.,]+(?:万|亿)?元) · score", result.stdout, re.M)
    assert items and [int(i[0]) for i in items] == list(range(1, len(items) + 1))
    allowed = set(instruments) or {"equity"}  # an empty list means equity only
    assert {instrument for _, _, instrument, _ in items} <= allowed
    assert result.stdout.count("单笔投资区间") == len(items)  # every item states its ticket fact
    again = cli("match", "deals", str(vc), "-k", "5", "--lang", "en")
    assert again.exit_code == 0 and again.stdout.count("ticket range") == len(items)
    wrong = cli("match", "secondaries", str(non_s_fund))
    assert wrong.exit_code == 1 and "secondary listings are for S funds" in wrong.stderr
    missing = cli("match", "deals", "999999")
    assert missing.exit_code == 1 and "999999" in missing.stderr


def test_the_terminal_ranks_as_the_service_once_a_model_is_promoted(pg_admin_url: str, template_url: str,
                                                                    tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """`capconnect match` loads the matcher as the service does (api.loader.load_matcher): with a promoted
    model it ranks by that model, so a deal list in the terminal is the list the API serves (same order,
    same scores), not the content + rules list it showed before."""
    from typer.testing import CliRunner

    from cli.commands import match
    from cli.main import app
    from matching.config import get_settings

    with api_service(pg_admin_url, tmp_path) as env:
        serve_trained_model(env, "v1")
        monkeypatch.setenv("CAPCONNECT_DATABASE_URL", env.db.url)
        monkeypatch.setenv("CAPCONNECT_DATA_DIR", str(env.settings.data_dir))
        monkeypatch.setenv("CAPCONNECT_MODELS_DIR", str(env.settings.models_dir))
        monkeypatch.setattr(match, "ensure_encoder", lambda: None)
        monkeypatch.setattr(match, "load_encoder", lambda *args, **kwargs: env.encoder)  # the service's encoder
        get_settings.cache_clear()
        try:
            inv = env.ids["inv"]
            terminal = CliRunner().invoke(app, ["match", "deals", str(inv), "-k", "10", "--lang", "en"],
                                          catch_exceptions=False)
        finally:
            get_settings.cache_clear()
        assert terminal.exit_code == 0, terminal.stderr
        assert " · model v1 · " in terminal.stdout
        served = env.get(f"/v1/investors/{inv}/deals", "inv", k=10).json()
        assert served["model_version"] == "v1" and len(served["items"]) == 10
        rows = re.findall(r"^\s+(\d+)\. (.+?) · .*· score (-?[\d.]+) · sources", terminal.stdout, re.M)
        assert [(int(p), name, score) for p, name, score in rows] == [
            (it["position"], it["enterprise"]["name"], f"{it['score']:.3f}") for it in served["items"]]
