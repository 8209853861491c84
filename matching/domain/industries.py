"""The industry taxonomy: Chongqing's "33618" modern manufacturing clusters plus emerging fields.

"33618" = 3 trillion-yuan clusters, 3 five-hundred-billion clusters, 6 hundred-billion clusters
and 18 "specialised, premium" industries. We keep the 12 named clusters, the emerging fields the
plan lists, and a few service sectors the regional market also sees. ``cluster`` groups related
industries so a mandate for 新能源汽车 is a *near* fit for 动力电池 (the "same cluster" feature).

Codes are stable, short and English; the Chinese name is what people read.
"""

from __future__ import annotations

from dataclasses import dataclass

from matching.errors import FieldError


@dataclass(frozen=True, slots=True)
class Industry:
    """One industry of the taxonomy."""

    code: str
    zh: str
    en: str
    cluster: str
    tier: str  # "3-trillion", "3-500bn", "6-100bn", "emerging", "services"
    keywords: tuple[str, ...]


_ROWS: list[tuple[str, str, str, str, str, tuple[str, ...]]] = [
    ("nev_auto", "智能网联新能源汽车", "Intelligent connected new-energy vehicles", "mobility", "3-trillion",
     ("新能源汽车", "智能网联", "整车", "汽车零部件", "自动驾驶", "电驱")),
    ("electronics", "新一代电子信息制造业", "Next-generation electronic information manufacturing", "electronics",
     "3-trillion", ("电子信息", "笔记本电脑", "智能终端", "电子元器件", "服务器")),
    ("adv_materials", "先进材料", "Advanced materials", "materials", "3-trillion",
     ("新材料", "复合材料", "高分子", "特种钢", "碳纤维")),
    ("smart_equipment", "智能装备及智能制造", "Intelligent equipment and smart manufacturing", "equipment",
     "3-500bn", ("工业机器人", "数控机床", "智能制造", "工业互联网", "自动化产线")),
    ("food_agri", "食品及农产品加工", "Food and agricultural processing", "consumer", "3-500bn",
     ("食品", "农产品", "火锅底料", "榨菜", "茶叶", "预制菜")),
    ("software", "软件信息服务", "Software and information services", "digital", "3-500bn",
     ("软件", "SaaS", "大数据", "云计算", "信息服务", "数字化")),
    ("new_display", "新型显示", "New display", "electronics", "6-100bn",
     ("显示面板", "OLED", "Micro LED", "液晶", "触控")),
    ("motorcycle", "高端摩托车", "High-end motorcycles", "mobility", "6-100bn",
     ("摩托车", "大排量", "电动两轮车", "发动机")),
    ("light_alloy", "轻合金材料", "Light alloy materials", "materials", "6-100bn",
     ("铝合金", "镁合金", "钛合金", "压铸", "轻量化")),
    ("textiles", "轻纺", "Light industry and textiles", "consumer", "6-100bn",
     ("纺织", "服装", "家具", "皮革", "日化")),
    ("biomedicine", "生物医药", "Biomedicine", "health", "6-100bn",
     ("创新药", "医疗器械", "疫苗", "体外诊断", "中药", "CRO")),
    ("new_energy_storage", "新能源及新型储能", "New energy and new energy storage", "energy", "6-100bn",
     ("锂电池", "储能", "光伏", "氢能", "钠离子电池", "锂", "钴", "镍")),
    ("ic_power_semi", "集成电路/功率半导体", "Integrated circuits and power semiconductors", "electronics",
     "emerging", ("集成电路", "芯片", "功率半导体", "碳化硅", "硅", "晶圆", "封装测试")),
    ("ai", "人工智能", "Artificial intelligence", "digital", "emerging",
     ("人工智能", "大模型", "机器视觉", "语音识别", "算法")),
    ("sensors", "先进传感器", "Advanced sensors", "electronics", "emerging",
     ("传感器", "MEMS", "激光雷达", "光电")),
    ("satellite_internet", "卫星互联网", "Satellite internet", "digital", "emerging",
     ("卫星", "北斗", "遥感", "星座", "地面站")),
    ("low_altitude", "低空经济", "Low-altitude economy", "mobility", "emerging",
     ("无人机", "eVTOL", "通用航空", "低空物流")),
    ("biomanufacturing", "生物制造", "Biomanufacturing", "health", "emerging",
     ("合成生物", "酶制剂", "生物基材料", "发酵")),
    ("robotics", "智能机器人", "Robotics", "equipment", "emerging",
     ("机器人", "人形机器人", "减速器", "伺服电机")),
    ("green_env", "绿色低碳与环保", "Green, low-carbon and environmental", "energy", "emerging",
     ("环保", "节能", "碳中和", "固废处理", "水处理")),
    ("modern_agri", "现代农业与乡村产业", "Modern agriculture and rural industry", "consumer", "services",
     ("智慧农业", "种业", "乡村旅游", "特色农业", "柑橘")),
    ("fin_services", "科技金融与商务服务", "Fintech and business services", "digital", "services",
     ("金融科技", "供应链金融", "检验检测", "咨询")),
    ("culture_tourism", "文化旅游与数字创意", "Culture, tourism and digital creative", "consumer", "services",
     ("文旅", "游戏", "动漫", "数字内容")),
    ("logistics", "现代物流", "Modern logistics", "mobility", "services",
     ("物流", "冷链", "陆海新通道", "多式联运")),
]

INDUSTRIES: tuple[Industry, ...] = tuple(Industry(*r) for r in _ROWS)
INDUSTRY_CODES: tuple[str, ...] = tuple(i.code for i in INDUSTRIES)
CLUSTERS: tuple[str, ...] = tuple(dict.fromkeys(i.cluster for i in INDUSTRIES))
_BY_CODE = {i.code: i for i in INDUSTRIES}
_BY_KEY: dict[str, Industry] = {}
for _i in INDUSTRIES:
    for _k in (_i.code, _i.zh, _i.en.lower()):
        _BY_KEY[_k] = _i


def industry(code: str) -> Industry:
    """The industry with this code (raises ``KeyError``)."""
    return _BY_CODE[code]


def cluster_of(code: str | None) -> str | None:
    """The cluster of an industry code, ``None`` for codes outside the taxonomy."""
    found = _BY_CODE.get(code or "")
    return found.cluster if found else None


def parse_industry(value: object, field: str = "industry") -> str:
    """Map an industry code, Chinese name or English name to its code.

    Raises:
        FieldError: naming the value and the allowed codes.
    """
    text = "" if value is None else str(value).strip()
    found = _BY_KEY.get(text) or _BY_KEY.get(text.lower())
    if found is None:
        allowed = ", ".join(f"{i.code} ({i.zh})" for i in INDUSTRIES)
        raise FieldError(field, value, f"not in the industry taxonomy; allowed: {allowed}")
    return found.code


def industry_or_none(raw: str | None) -> str | None:
    """The taxonomy code a free-text industry names, ``None`` when it names none (foreign data)."""
    if not raw:
        return None
    try:
        return parse_industry(raw)
    except FieldError:
        return None
