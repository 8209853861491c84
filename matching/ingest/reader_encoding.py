"""Which encoding a CSV file is in: UTF-8 (with or without BOM), GB18030/GBK, Mac Roman, Windows-1252, …

Used by :mod:`matching.ingest.reader`; see :func:`detect_encoding` for the order of the checks and
why. An encoding a person gives wins over detection, after :func:`normalize_encoding`.
"""

from __future__ import annotations

import codecs

from matching.errors import FieldError

#: Names people give to GB encodings; all are read as GB18030, their superset.
_GB_ALIASES = {"gbk", "gb2312", "cp936", "ms936", "euc_cn", "euccn", "gb18030", "gb_18030", "gb18030_2000"}
_SAMPLE_BYTES = 1 << 20  # encoding statistics look at the first MiB only (decoding checks everything)


def normalize_encoding(name: str) -> str:
    """The codec for an encoding a person typed (``GBK`` → ``gb18030``, ``macroman`` → ``mac-roman``).

    Raises:
        FieldError: for an encoding Python does not know.
    """
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    if key in _GB_ALIASES:
        return "gb18030"
    if key in {"macroman", "mac_roman", "x_mac_roman"}:
        return "mac-roman"
    try:
        return codecs.lookup(name.strip()).name
    except LookupError:
        raise FieldError(
            "encoding", name, "unknown encoding; use e.g. utf-8, utf-8-sig, gb18030, mac_roman, cp1252"
        ) from None


def detect_encoding(data: bytes) -> str:
    """Guess the encoding of CSV bytes.

    The order, and why:

    1. a BOM decides (UTF-8, UTF-16);
    2. bytes that are valid UTF-8 are UTF-8: other encodings almost never produce valid multibyte
       sequences by accident. A file that is *mostly* valid UTF-8 with a few bad bytes is still
       called UTF-8, so decoding fails loudly on the bad row instead of garbling every name;
    3. GB18030 when its decoding is mostly common Chinese characters (those of GB2312): real
       Chinese text is; Latin text read as GB18030 gives rare characters from the GBK extension;
    4. charset_normalizer for other multibyte encodings (Big5, Shift_JIS, EUC-KR, …);
    5. single-byte Latin text: Mac Roman or Windows-1252, whichever reads the high bytes as
       letters; CR-only line endings (classic Mac OS) tip a tie towards Mac Roman.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    sample = _sample(data)
    if not any(b > 0x7F for b in sample):
        return "utf-8"  # pure ASCII
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    if _mostly_utf8(sample):
        return "utf-8"
    if _looks_gb(sample):
        return "gb18030"
    other = _charset_normalizer_guess(sample)
    if other:
        return other
    return _latin_guess(sample)


def _sample(data: bytes) -> bytes:
    if len(data) <= _SAMPLE_BYTES:
        return data
    cut = data.rfind(b"\n", 0, _SAMPLE_BYTES)
    if cut < 0:
        cut = data.rfind(b"\r", 0, _SAMPLE_BYTES)
    return data[: cut if cut > 0 else _SAMPLE_BYTES]


def _mostly_utf8(sample: bytes) -> bool:
    text = sample.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = sum(1 for c in text if c > "\x7f" and c != "\ufffd")
    return good >= 3 and good >= 3 * bad  # GB18030 or Latin text read as UTF-8 is mostly invalid


def _looks_gb(sample: bytes) -> bool:
    """Mostly common Chinese characters when read as GB18030: at least half of the non-ASCII
    characters if the bytes decode cleanly (rare names and extension characters happen), 80 % if
    some bytes do not (then decoding will name the bad row)."""
    try:
        text = sample.decode("gb18030")
        threshold = 0.5
    except UnicodeDecodeError:
        text = sample.decode("gb18030", errors="replace")
        threshold = 0.8
    counts: dict[str, int] = {}
    for c in text:
        if c > "\x7f":
            counts[c] = counts.get(c, 0) + 1
    total = sum(counts.values())
    if not total:
        return False
    common = 0
    for c, n in counts.items():
        try:
            c.encode("gb2312")
            common += n
        except UnicodeEncodeError:
            pass
    return common >= threshold * total


#: Encodings charset_normalizer may choose; single-byte Latin guesses on short samples are noise
#: (it calls a Mac Roman "Café" EBCDIC), and those are decided by :func:`_latin_guess` instead.
_MULTIBYTE = frozenset(
    {
        "big5",
        "big5hkscs",
        "cp950",
        "shift_jis",
        "cp932",
        "euc_jp",
        "euc_jis_2004",
        "iso2022_jp",
        "euc_kr",
        "cp949",
        "johab",
        "utf_16",
        "utf_16_le",
        "utf_16_be",
        "utf_32",
        "koi8_r",
        "cp1251",
        "cp866",
    }
)


def _charset_normalizer_guess(sample: bytes) -> str | None:
    """Another multibyte (or Cyrillic) encoding, if charset_normalizer finds one; else ``None``."""
    if b"\r" in sample and b"\n" not in sample:
        return None  # CR-only line endings: a classic Mac file, Mac Roman or another Mac single-byte set
    if _isolated_high_bytes(sample) > 0.5:
        return None  # accented letters between ASCII ones: Latin text, whatever Big5 could make of it
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - a declared dependency
        return None
    best = from_bytes(sample[:200_000]).best()
    if best is None or best.encoding.lower().replace("-", "_") not in _MULTIBYTE or best.chaos > 0.2:
        return None
    return normalize_encoding(best.encoding)


def _isolated_high_bytes(sample: bytes) -> float:
    """Share of non-ASCII bytes with ASCII on both sides (Latin text: most; CJK multibyte text: few)."""
    high = isolated = 0
    for i, b in enumerate(sample):
        if b > 0x7F:
            high += 1
            if (i == 0 or sample[i - 1] < 0x80) and (i + 1 == len(sample) or sample[i + 1] < 0x80):
                isolated += 1
    return isolated / high if high else 0.0


def _latin_guess(sample: bytes) -> str:
    """Mac Roman or Windows-1252: the one that reads more high bytes as common accented letters
    (À–ÿ) that are not a capital after a small letter ("Société": Mac Roman é, not cp1252 Ž;
    "Café" in cp1252: é, not Mac Roman È)."""
    cr_only = b"\r" in sample and b"\n" not in sample
    scores: dict[str, float] = {}
    for enc in ("cp1252", "mac-roman"):
        try:
            text = sample.decode(enc)
        except UnicodeDecodeError:
            continue  # cp1252 leaves five bytes undefined
        good = high = 0
        prev = " "
        for c in text:
            if c > "\x7f":
                high += 1
                if "\xc0" <= c <= "\xff" and c.isalpha() and not (c.isupper() and prev.islower()):
                    good += 1
            prev = c
        scores[enc] = good / max(high, 1)
    if not scores:
        return "mac-roman"
    if cr_only:
        scores["mac-roman"] = scores.get("mac-roman", 0.0) + 0.25
    return max(scores, key=lambda k: scores[k])
