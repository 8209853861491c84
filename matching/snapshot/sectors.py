"""The sector vocabulary of one snapshot: taxonomy codes first, then the foreign raw sectors it met."""

from __future__ import annotations

from matching.domain import industries


class SectorCodes:
    """Sector vocabulary of a snapshot: the taxonomy codes first, then foreign raw sectors."""

    def __init__(self) -> None:
        self.names: list[str] = list(industries.INDUSTRY_CODES)
        self.index: dict[str, int] = {c: i for i, c in enumerate(self.names)}
        cl = {c: i for i, c in enumerate(industries.CLUSTERS)}
        self.cluster: list[int] = [cl[industries.cluster_of(c) or ""] for c in self.names]

    def code(self, industry_code: str | None, raw: str | None) -> int:
        """Sector id of an enterprise (taxonomy code, else raw sector name; -1 when neither)."""
        key = industry_code or (f"raw:{raw.strip().lower()}" if raw and raw.strip() else None)
        if key is None:
            return -1
        if key not in self.index:
            self.index[key] = len(self.names)
            self.names.append(key)
            self.cluster.append(-1)
        return self.index[key]

    def label(self, sector: int, lang: str = "zh") -> str:
        """Human label of a sector id."""
        name = self.names[sector]
        if name.startswith("raw:"):
            return name[4:]
        ind = industries.industry(name)
        return ind.zh if lang == "zh" else ind.en
