"""Chongqing's 38 district-level units and the region scopes of investor mandates.

Codes are the national administrative division codes (GB/T 2260). ``area`` is the municipal
planning zone: 中心城区 (central urban), 主城新区 (new urban), 渝东北 (north-east), 渝东南
(south-east). 两江新区 and 重庆高新区 are functional zones spanning several districts; an
enterprise is located by its registered district.
"""

from __future__ import annotations

from dataclasses import dataclass

from matching.errors import FieldError


@dataclass(frozen=True, slots=True)
class District:
    """One district-level unit of Chongqing."""

    code: str
    zh: str
    en: str
    kind: str  # "district" (区) or "county" (县)
    area: str


_ROWS = [
    ("500101", "万州区", "Wanzhou", "district", "渝东北"),
    ("500102", "涪陵区", "Fuling", "district", "主城新区"),
    ("500103", "渝中区", "Yuzhong", "district", "中心城区"),
    ("500104", "大渡口区", "Dadukou", "district", "中心城区"),
    ("500105", "江北区", "Jiangbei", "district", "中心城区"),
    ("500106", "沙坪坝区", "Shapingba", "district", "中心城区"),
    ("500107", "九龙坡区", "Jiulongpo", "district", "中心城区"),
    ("500108", "南岸区", "Nan'an", "district", "中心城区"),
    ("500109", "北碚区", "Beibei", "district", "中心城区"),
    ("500110", "綦江区", "Qijiang", "district", "主城新区"),
    ("500111", "大足区", "Dazu", "district", "主城新区"),
    ("500112", "渝北区", "Yubei", "district", "中心城区"),
    ("500113", "巴南区", "Banan", "district", "中心城区"),
    ("500114", "黔江区", "Qianjiang", "district", "渝东南"),
    ("500115", "长寿区", "Changshou", "district", "主城新区"),
    ("500116", "江津区", "Jiangjin", "district", "主城新区"),
    ("500117", "合川区", "Hechuan", "district", "主城新区"),
    ("500118", "永川区", "Yongchuan", "district", "主城新区"),
    ("500119", "南川区", "Nanchuan", "district", "主城新区"),
    ("500120", "璧山区", "Bishan", "district", "主城新区"),
    ("500151", "铜梁区", "Tongliang", "district", "主城新区"),
    ("500152", "潼南区", "Tongnan", "district", "主城新区"),
    ("500153", "荣昌区", "Rongchang", "district", "主城新区"),
    ("500154", "开州区", "Kaizhou", "district", "渝东北"),
    ("500155", "梁平区", "Liangping", "district", "渝东北"),
    ("500156", "武隆区", "Wulong", "district", "渝东南"),
    ("500229", "城口县", "Chengkou", "county", "渝东北"),
    ("500230", "丰都县", "Fengdu", "county", "渝东北"),
    ("500231", "垫江县", "Dianjiang", "county", "渝东北"),
    ("500233", "忠县", "Zhongxian", "county", "渝东北"),
    ("500235", "云阳县", "Yunyang", "county", "渝东北"),
    ("500236", "奉节县", "Fengjie", "county", "渝东北"),
    ("500237", "巫山县", "Wushan", "county", "渝东北"),
    ("500238", "巫溪县", "Wuxi", "county", "渝东北"),
    ("500240", "石柱土家族自治县", "Shizhu", "county", "渝东南"),
    ("500241", "秀山土家族苗族自治县", "Xiushan", "county", "渝东南"),
    ("500242", "酉阳土家族苗族自治县", "Youyang", "county", "渝东南"),
    ("500243", "彭水苗族土家族自治县", "Pengshui", "county", "渝东南"),
]

DISTRICTS: tuple[District, ...] = tuple(District(*r) for r in _ROWS)
DISTRICT_CODES: tuple[str, ...] = tuple(d.code for d in DISTRICTS)
_BY_KEY: dict[str, District] = {}
for _d in DISTRICTS:
    for _k in (_d.code, _d.zh, _d.en.lower(), _d.zh.rstrip("区县"), _d.zh[:2]):
        _BY_KEY.setdefault(_k, _d)

#: Provinces counted as western China (西部大开发 scope).
WESTERN_PROVINCES = frozenset(
    {"重庆", "四川", "贵州", "云南", "西藏", "陕西", "甘肃", "青海", "宁夏", "新疆", "广西", "内蒙古"}
)


def district(code: str) -> District:
    """The district with this code (raises ``KeyError``)."""
    return _BY_CODE[code]


_BY_CODE = {d.code: d for d in DISTRICTS}


def parse_district(value: object, field: str = "district") -> str | None:
    """Map a district code, Chinese name (with or without 区/县) or pinyin to its code.

    Empty values give ``None`` (an enterprise outside Chongqing has no district).

    Raises:
        FieldError: for a value that names no Chongqing district.
    """
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    text = text.removeprefix("重庆市").removeprefix("重庆")
    found = _BY_KEY.get(text) or _BY_KEY.get(text.lower())
    if found is None:
        raise FieldError(
            field,
            value,
            "not one of Chongqing's 38 district-level units; give the code (e.g. 500103) "
            "or the name (e.g. 渝中区); leave empty for enterprises outside Chongqing",
        )
    return found.code


def in_scope(scope: str, *, district_code: str | None, province: str | None, country: str | None) -> bool:
    """Whether a location lies inside a mandate's region scope."""
    country = (country or "CN").upper()
    domestic = country in {"CN", "CHN", "CHINA", "中国"}
    prov = (province or "").removesuffix("市").removesuffix("省").removesuffix("自治区")
    if scope == "overseas":
        return True
    if scope == "national":
        return domestic
    if scope == "chongqing":
        return district_code is not None or (domestic and prov == "重庆")
    if scope == "chengyu":
        return district_code is not None or (domestic and prov in {"重庆", "四川"})
    if scope == "western":
        return district_code is not None or (domestic and prov in WESTERN_PROVINCES)
    raise ValueError(f"unknown region scope {scope!r}")


# fmt: off
#: Short names of China's provincial-level divisions (for free-text regions).
PROVINCES = ("北京", "天津", "上海", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江",
             "安徽", "福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州",
             "云南", "陕西", "甘肃", "青海", "内蒙古", "广西", "西藏", "宁夏", "新疆")
#: English names of :data:`PROVINCES` (pinyin, as maps print them), for English text.
PROVINCES_EN = dict(zip(PROVINCES, (
    "Beijing", "Tianjin", "Shanghai", "Chongqing", "Hebei", "Shanxi", "Liaoning", "Jilin", "Heilongjiang", "Jiangsu",
    "Zhejiang", "Anhui", "Fujian", "Jiangxi", "Shandong", "Henan", "Hubei", "Hunan", "Guangdong", "Hainan",
    "Sichuan", "Guizhou", "Yunnan", "Shaanxi", "Gansu", "Qinghai", "Inner Mongolia", "Guangxi", "Tibet", "Ningxia",
    "Xinjiang"), strict=True))
# fmt: on


def province_en(name: str | None) -> str:
    """A province's English name (``浙江`` → ``Zhejiang``); anything else (CA, London) as it is."""
    return PROVINCES_EN.get(name or "", name or "")


def locate(region: str | None, country: str | None, default_country: str = "CN"
           ) -> tuple[str | None, str | None, str]:
    """``(district_code, province, country)`` of a free-text region.

    A Chongqing district (渝中区, 500103, Yuzhong) gives its code and province 重庆; a Chinese
    province (四川省, 广西壮族自治区) gives its short name; anything else (CA, London) is kept
    as the province. A country other than CN skips the Chinese lookups.
    """
    if country and country != "CN":
        return None, region, country
    if region:
        try:
            code = parse_district(region)
        except FieldError:
            code = None
        if code:
            return code, "重庆", "CN"
        for province in PROVINCES:
            if region.startswith(province):
                return None, province, "CN"
    return None, region, country or default_country
