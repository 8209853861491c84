"""Issue 17, item 4 (the first hour of a newcomer): every reason template and every console text, rendered
once in both languages with representative values, reads right: no doubled words ("Pre-IPO round round"),
no unfilled ``{placeholder}``, no Chinese in the English text or English words in the Chinese text except the
names and codes that are meant to stay as they are."""

from __future__ import annotations

import re
import string

import numpy as np
import pytest

from api.web import i18n
from matching.domain import vocab
from matching.explain import reasons as R
from matching.features.table import FEATURE_NAMES
from matching.snapshot.core import MarketSnapshot, build_snapshot
from matching.synth.generator import generate_market

HAN = re.compile(r"[\u3400-\u9fff]")
#: English words allowed in Chinese text: codes, formats, product and command names, the board and round labels.
ZH_ASCII_OK = {"api", "csv", "xlsx", "jsonl", "utf", "gbk", "gb", "cck", "capconnect", "train", "keys", "create",
               "content", "rules", "ndcg", "pre", "ipo", "pipeline", "docs", "srdi", "qfi", "qflp", "vc", "pe",
               "cvc", "s", "r", "english", "readme", "cookie", "d", "a", "b", "c", "ai", "it", "json", "worker",
               "id", "st"}
#: Chinese allowed in English text: terms quoted with their English gloss on purpose.
EN_HAN_OK = {"pipeline_title": "上市培育", "switch_lang": "中文"}


def _doubled(text: str) -> str | None:
    m = re.search(r"\b([A-Za-z]{2,})\s+\1\b", text, flags=re.IGNORECASE)
    if m:
        return m.group(0)
    m = re.search(r"([\u4e00-\u9fff])\1(?![\u4e00-\u9fff]*[：:])", text)
    allowed = {"常常", "刚刚", "渐渐", "往往", "人人", "仅仅", "看看"}
    return m.group(0) if m and m.group(0) not in allowed else None


def check_zh(text: str, where: str) -> None:
    assert "{" not in text and "}" not in text, f"{where}: unfilled placeholder in {text!r}"
    assert not (d := _doubled(text)), f"{where}: doubled {d!r} in {text!r}"
    words = {w.lower() for w in re.findall(r"[A-Za-z]+", text)}
    extra = words - ZH_ASCII_OK
    assert not extra, f"{where}: English {sorted(extra)} in the Chinese text {text!r}"


def check_en(text: str, where: str, han_ok: str = "") -> None:
    assert "{" not in text and "}" not in text, f"{where}: unfilled placeholder in {text!r}"
    assert not (d := _doubled(text)), f"{where}: doubled {d!r} in {text!r}"
    unquoted = re.sub(r"“[^”]*”", "", text)  # the words a user searched for are quoted as typed
    han = HAN.findall(unquoted.replace(han_ok, "") if han_ok else unquoted)
    assert not han, f"{where}: Chinese {''.join(han)!r} in the English text {text!r}"


@pytest.fixture(scope="module")
def snap() -> MarketSnapshot:
    m = generate_market(400, 60, 12, seed=11)
    return build_snapshot(m.enterprises, m.investors, m.mandates, m.needs, m.secondaries, m.events)


def _all_reasons(snap: MarketSnapshot) -> list[R.Reason]:
    out: list[R.Reason] = []
    everything = np.linspace(1.0, 0.1, len(FEATURE_NAMES) + 1)  # every feature raises the score
    values = np.full(len(FEATURE_NAMES), 0.42)
    for inv in range(snap.n_investors):
        for need in range(0, len(snap.need_ent), 7):
            for view in ("investor", "enterprise"):
                out += R.explain_pair(snap, inv, need, view=view)  # type: ignore[arg-type]
    out += R.model_reasons(everything, values, k=len(FEATURE_NAMES))
    out += R.model_reasons(everything, None, k=len(FEATURE_NAMES), withheld=frozenset(FEATURE_NAMES[:5]))
    text = "、".join(["人工智能", "渝北", "两江", "A轮", "Pre-IPO", "天使轮", "江北区"])
    terms = R.search_terms(text)
    for ent in range(0, snap.n_enterprises, 3):
        out += R.explain_search(snap, terms, ent=ent)[0]
    for inv in range(snap.n_investors):
        out += R.explain_search(snap, terms, inv=inv)[0]
    return out


def test_every_reason_template_reads_right_in_both_languages(snap: MarketSnapshot) -> None:
    seen: dict[str, int] = {}
    for r in _all_reasons(snap):
        seen[r.code] = seen.get(r.code, 0) + 1
        check_zh(r.zh, r.code)
        check_en(r.en, r.code)
    wanted = {"sector_exact", "sector_cluster", "sector_history", "ticket", "ticket_near_miss", "stage", "district",
              "region", "tier", "board", "qualifications", "instrument", "search_sector",
              "search_district", "search_round", R.UNDISCLOSED}
    assert wanted <= set(seen), f"templates never rendered: {sorted(wanted - set(seen))}"
    assert sum(1 for c in seen if c.startswith("model:")) >= len(FEATURE_NAMES) - len(R._COVERED) - 1


@pytest.mark.parametrize("code", vocab.ROUNDS.codes)
def test_the_stage_reason_names_each_round_once(snap: MarketSnapshot, code: str) -> None:
    """The stage sentence for every round label: "The Pre-IPO round is one of your investment stages"."""
    r = vocab.ROUNDS.codes.index(code)
    for need in range(len(snap.need_ent)):
        if int(snap.need_round[need]) == r:
            break
    else:
        pytest.skip(f"no need at round {code} in this market")
    inv = next((i for i in range(snap.n_investors) if (int(snap.man_stages[i]) >> r) & 1), None)
    if inv is None:
        pytest.skip(f"no mandate names round {code}")
    stage = [x for x in R.explain_pair(snap, inv, need) if x.code == "stage"]
    assert len(stage) == 1
    check_en(stage[0].en, "stage")
    check_zh(stage[0].zh, "stage")
    assert stage[0].en.count("round") == 1 and stage[0].en.endswith("is one of your investment stages")
    if code == "pre_ipo":
        assert stage[0].en == "The Pre-IPO round is one of your investment stages"
        assert stage[0].zh == "融资轮次（Pre-IPO）符合贵机构的投资阶段"


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("key", sorted(i18n.TEXT))
def test_every_console_text_has_both_languages_with_the_same_placeholders(key: str) -> None:
    zh, en = i18n.TEXT[key]
    assert zh and en, key
    names = _placeholders(zh)
    assert names == _placeholders(en), f"{key}: zh {sorted(names)} en {sorted(_placeholders(en))}"
    values = {n: "7" for n in names}
    shown_zh, shown_en = i18n.translator("zh")(key, **values), i18n.translator("en")(key, **values)
    check_zh(shown_zh, key)
    check_en(shown_en, key, EN_HAN_OK.get(key, ""))
