"""Word lists the synthetic market composes its Chinese text from.

Kept apart from the composition code (:mod:`matching.synth.texts`) so the vocabulary can grow
without touching logic. Every industry code of :mod:`matching.domain.industries` has a profile;
``tests/test_generator.py`` checks that none is missing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class IndustryProfile:
    """What companies of one industry are called, make, sell to and master."""

    names: tuple[tuple[str, str], ...]  # (Chinese name word, English name word)
    products: tuple[str, ...]
    customers: tuple[str, ...]
    techs: tuple[str, ...]


def _p(names: str, products: str, customers: str, techs: str) -> IndustryProfile:
    pairs = tuple(tuple(item.split("=")) for item in names.split("|"))
    return IndustryProfile(
        names=pairs,  # type: ignore[arg-type]
        products=tuple(products.split("|")),
        customers=tuple(customers.split("|")),
        techs=tuple(techs.split("|")),
    )


PROFILES: dict[str, IndustryProfile] = {
    "nev_auto": _p(
        "汽车科技=Auto Technology|新能源汽车=New Energy Vehicle|"
        "汽车零部件=Auto Parts|智能驾驶科技=Smart Driving|汽车电子=Auto Electronics",
        "电驱动总成|车载域控制器|热管理系统|智能座舱系统|线控底盘|车用线束|轻量化车身件|电池包结构件",
        "国内头部整车企业|新能源主机厂|一级汽车零部件供应商|商用车企业",
        "多合一电驱集成|高压快充|车规级软件|自动驾驶感知融合|整车热管理"),
    "electronics": _p(
        "电子科技=Electronics|电子信息=Electronic Information|"
        "智能终端=Smart Devices|精密电子=Precision Electronics",
        "笔记本电脑结构件|智能终端整机|服务器主板|片式电子元器件|柔性电路板|电源适配器|智能穿戴设备",
        "笔电品牌厂商|ODM代工企业|通信设备商|消费电子品牌",
        "SMT精密贴装|高密度互连|电磁兼容设计|散热模组设计|精密注塑"),
    "adv_materials": _p(
        "新材料=New Materials|材料科技=Materials Technology|复合材料=Composites|高分子材料=Polymer",
        "碳纤维复合材料|特种工程塑料|高性能聚酰胺|特种钢材|改性塑料|玻璃纤维制品|功能涂层",
        "汽车零部件企业|风电叶片厂商|航空航天配套单位|电子电器企业",
        "连续纤维增强|高分子改性|粉末冶金|表面涂层|纳米分散"),
    "smart_equipment": _p(
        "智能装备=Intelligent Equipment|智能制造=Smart Manufacturing|"
        "自动化设备=Automation|数控科技=CNC Technology",
        "数控机床|自动化产线|工业机器人工作站|智能仓储系统|精密夹具|工业互联网平台|激光加工设备",
        "汽摩制造企业|电子代工厂|离散制造企业|军工配套企业",
        "数字孪生|五轴联动加工|机器视觉检测|柔性制造|预测性维护"),
    "food_agri": _p(
        "食品=Foods|食品科技=Food Technology|农产品开发=Agricultural Products|调味品=Condiments",
        "火锅底料|榨菜|预制菜|特色茶叶|休闲食品|复合调味料|冷冻面点|小面调料",
        "连锁餐饮品牌|大型商超|电商平台|社区团购平台|出口经销商",
        "低温灭菌|风味标准化|冷链锁鲜|全程可追溯|非油炸工艺"),
    "software": _p(
        "软件=Software|信息技术=Information Technology|"
        "数字科技=Digital Technology|网络科技=Network Technology",
        "工业SaaS平台|政务大数据平台|企业管理软件|云计算服务|数据治理平台|智慧园区系统|信创办公软件",
        "政府部门|中大型制造企业|金融机构|医院|高校",
        "低代码|分布式数据库|信创适配|数据中台|微服务架构"),
    "new_display": _p(
        "光电科技=Optoelectronics|显示技术=Display Technology|光电显示=Optoelectronic Display",
        "OLED模组|Micro LED芯片|液晶显示模组|触控面板|车载显示屏|背光模组",
        "面板厂|终端品牌商|车载显示客户|工控设备厂商",
        "巨量转移|柔性封装|低温多晶硅|全贴合|量子点色转换"),
    "motorcycle": _p(
        "摩托车=Motorcycle|机车=Motor|动力科技=Power Technology",
        "大排量摩托车|电动两轮车|摩托车发动机|越野摩托车|摩托车电控系统|摩托车零部件",
        "海外经销商|国内骑行用户|摩托车整车厂|出口贸易商",
        "电喷控制|轻量化车架|三缸发动机|智能仪表|混合动力总成"),
    "light_alloy": _p(
        "铝业=Aluminium|合金材料=Alloys|轻合金=Light Alloy|精密压铸=Precision Die-casting",
        "铝合金型材|镁合金压铸件|钛合金紧固件|一体化压铸件|铝合金轮毂|轻量化结构件",
        "新能源车企|轨道交通企业|3C电子厂商|建筑幕墙企业",
        "半固态成型|一体化压铸|热处理强化|精密锻造|再生铝保级利用"),
    "textiles": _p(
        "纺织=Textiles|服饰=Apparel|家居=Home Furnishing|日化=Daily Chemicals",
        "功能性面料|品牌服装|定制家具|皮革制品|日化用品|家纺产品",
        "电商平台|品牌服装商|外贸客户|连锁零售商",
        "数码印花|智能裁剪|环保染整|柔性供应链|无醛板材"),
    "biomedicine": _p(
        "生物医药=Biopharma|医药科技=Pharmaceutical Technology|"
        "医疗器械=Medical Devices|生物技术=Biotechnology",
        "创新药|体外诊断试剂|医疗器械|疫苗|中药配方颗粒|医用耗材|临床CRO服务",
        "三甲医院|基层医疗机构|医药流通企业|制药企业",
        "单克隆抗体|分子诊断|缓控释制剂|微创介入|细胞治疗"),
    "new_energy_storage": _p(
        "新能源=New Energy|储能科技=Energy Storage|能源科技=Energy Technology|电池科技=Battery Technology",
        "储能电池系统|锂电池正极材料|光伏组件|氢燃料电池|钠离子电池|储能变流器",
        "电网公司|新能源电站|工商业用户|动力电池厂",
        "电池管理系统|固态电解质|高镍三元|液冷储能|电解水制氢"),
    "ic_power_semi": _p(
        "半导体=Semiconductor|微电子=Microelectronics|芯片科技=Chip Technology|集成电路=Integrated Circuit",
        "功率器件|碳化硅MOSFET|IGBT模块|模拟芯片|晶圆代工服务|封装测试服务",
        "汽车电子企业|工业控制厂商|消费电子品牌|光伏逆变器厂商",
        "碳化硅外延|先进封装|车规级认证|特色工艺|沟槽栅结构"),
    "ai": _p(
        "智能科技=Intelligent Technology|人工智能=Artificial Intelligence|智算科技=AI Computing",
        "行业大模型|机器视觉检测系统|语音交互平台|智能客服系统|AI质检平台|算法训练平台",
        "制造企业|商业银行|政府部门|城市运营方",
        "多模态大模型|深度学习|知识图谱|边缘计算推理|小样本学习"),
    "sensors": _p(
        "传感技术=Sensing Technology|传感器=Sensors|感知科技=Perception Technology",
        "MEMS传感器|激光雷达|压力传感器|气体传感器|光电编码器|惯性测量单元",
        "汽车零部件企业|工业自动化客户|消费电子厂商|环境监测机构",
        "MEMS工艺|多传感器融合|温度补偿算法|晶圆级封装"),
    "satellite_internet": _p(
        "卫星科技=Satellite Technology|空天信息=Aerospace Information|北斗科技=BeiDou Technology",
        "北斗导航终端|遥感数据服务|卫星通信终端|地面站设备|时空信息平台",
        "自然资源部门|应急管理部门|交通运输企业|农业用户",
        "高精度定位|星地融合通信|遥感影像解译|相控阵天线"),
    "low_altitude": _p(
        "航空科技=Aviation Technology|无人机=Drones|"
        "低空科技=Low-altitude Technology|通用航空=General Aviation",
        "工业级无人机|eVTOL飞行器|低空物流配送系统|无人机飞控|通航运营服务",
        "电力巡检单位|物流企业|应急救援部门|文旅景区",
        "自主飞控|复合翼设计|低空空域管理|长航时动力"),
    "biomanufacturing": _p(
        "生物科技=Bio-technology|生物工程=Bioengineering|合成生物=Synthetic Biology",
        "酶制剂|生物基材料|发酵产品|功能性糖|氨基酸|益生菌",
        "食品企业|饲料企业|日化品牌|制药企业",
        "合成生物学|高密度发酵|菌种改造|连续分离纯化"),
    "robotics": _p(
        "机器人=Robotics|智能机器人=Intelligent Robotics|自动化科技=Automation Technology",
        "协作机器人|人形机器人|精密减速器|伺服电机|巡检机器人|服务机器人",
        "汽车工厂|电子制造企业|物流仓储企业|医院",
        "运动控制|力控算法|谐波减速|具身智能"),
    "green_env": _p(
        "环保科技=Environmental Technology|节能科技=Energy Saving|环境工程=Environmental Engineering",
        "固废处理系统|工业水处理设备|节能改造服务|碳排放监测平台|危废资源化服务|烟气治理设备",
        "工业园区|市政单位|化工企业|火电厂",
        "膜分离|厌氧发酵|余热回收|碳核算"),
    "modern_agri": _p(
        "农业科技=Agri-tech|农业开发=Agricultural Development|生态农业=Eco-agriculture|种业=Seed Industry",
        "柑橘|特色农产品|智慧农业系统|优质种苗|乡村旅游服务|中药材|生态养殖产品",
        "农业合作社|商超|电商平台|种植大户",
        "水肥一体化|物联网监测|组培育苗|绿色防控"),
    "fin_services": _p(
        "信息咨询=Consulting|科技服务=Tech Services|检测技术=Testing|金融信息=Financial Information",
        "供应链金融平台|检验检测服务|企业咨询服务|金融风控系统|知识产权服务",
        "中小微企业|商业银行|产业园区|产业链核心企业",
        "风控模型|区块链存证|智能审核|数据风控"),
    "culture_tourism": _p(
        "文化传媒=Media|文旅发展=Culture and Tourism|数字娱乐=Digital Entertainment|动漫=Animation",
        "文旅演艺项目|手机游戏|动漫IP|数字内容|沉浸式体验项目|文创产品",
        "景区|年轻消费者|品牌方|文旅集团",
        "虚拟现实|实时渲染|数字孪生展示|IP运营"),
    "logistics": _p(
        "物流=Logistics|供应链=Supply Chain|冷链物流=Cold Chain|国际物流=International Logistics",
        "冷链物流服务|多式联运服务|智慧仓储|跨境物流|城市配送",
        "跨境电商|制造企业|商贸企业|生鲜电商",
        "运输管理系统|智能调度|温控监测|陆海新通道班列组织"),
}

#: Characters of trade names (字号) with their pinyin, for Chinese and English company names.
TRADE_CHARS: tuple[tuple[str, str], ...] = tuple(
    tuple(p.split("=")) for p in (  # type: ignore[misc]
        "华=Hua 瑞=Rui 恒=Heng 创=Chuang 博=Bo 达=Da 鑫=Xin 宏=Hong 盛=Sheng 海=Hai 天=Tian 信=Xin "
        "智=Zhi 远=Yuan 德=De 誉=Yu 兴=Xing 隆=Long 泰=Tai 安=An 佳=Jia 嘉=Jia 捷=Jie 聚=Ju 凯=Kai "
        "康=Kang 力=Li 联=Lian 龙=Long 明=Ming 铭=Ming 诺=Nuo 鹏=Peng 奇=Qi 启=Qi 荣=Rong 润=Run "
        "森=Sen 顺=Shun 思=Si 腾=Teng 通=Tong 维=Wei 伟=Wei 祥=Xiang 新=Xin 星=Xing 旭=Xu 亚=Ya "
        "耀=Yao 易=Yi 益=Yi 盈=Ying 永=Yong 宇=Yu 云=Yun 泽=Ze 正=Zheng 志=Zhi 中=Zhong 卓=Zhuo "
        "众=Zhong 山=Shan 城=Cheng 渝=Yu 巴=Ba 江=Jiang 峡=Xia 川=Chuan 锦=Jin 蓝=Lan 青=Qing "
        "金=Jin 光=Guang 晶=Jing 芯=Xin 驰=Chi 迅=Xun 锐=Rui 峰=Feng 融=Rong 澜=Lan 弘=Hong "
        "广=Guang 辰=Chen 晟=Sheng 昊=Hao 汇=Hui 航=Hang 翔=Xiang 骏=Jun 源=Yuan 元=Yuan 睿=Rui "
        "哲=Zhe 朗=Lang 景=Jing 钧=Jun 坤=Kun 乾=Qian 沃=Wo 霖=Lin 禾=He 丰=Feng 穗=Sui 谷=Gu "
        "茂=Mao 林=Lin 溪=Xi 竹=Zhu 科=Ke 高=Gao 东=Dong 西=Xi 南=Nan 友=You 美=Mei 和=He 合=He "
        "立=Li 久=Jiu 长=Chang 万=Wan 千=Qian 百=Bai 鼎=Ding 晨=Chen 皓=Hao 涵=Han 柏=Bai 霆=Ting"
    ).split()
)

#: Places outside Chongqing that some enterprises come from: (province, city, division code).
OUTSIDE_PLACES: tuple[tuple[str, str, str], ...] = (
    ("四川", "成都", "510100"), ("四川", "绵阳", "510700"), ("四川", "宜宾", "511500"),
    ("贵州", "贵阳", "520100"), ("陕西", "西安", "610100"), ("云南", "昆明", "530100"),
    ("北京", "北京", "110108"), ("上海", "上海", "310115"), ("广东", "深圳", "440305"),
    ("湖北", "武汉", "420100"), ("浙江", "杭州", "330100"), ("江苏", "苏州", "320500"),
)

#: Investor home cities outside Chongqing: (province, city).
INVESTOR_CITIES: tuple[tuple[str, str], ...] = (
    ("北京", "北京"), ("上海", "上海"), ("广东", "深圳"), ("浙江", "杭州"), ("江苏", "苏州"),
    ("四川", "成都"), ("广东", "广州"), ("湖北", "武汉"), ("陕西", "西安"), ("天津", "天津"),
)

#: Qualified foreign investors' homes: (country code, place in Chinese, English suffix).
FOREIGN_HOMES: tuple[tuple[str, str, str], ...] = (
    ("HK", "香港", "Hong Kong"), ("SG", "新加坡", "Singapore"), ("US", "美国", "US"),
    ("GB", "英国", "UK"), ("JP", "日本", "Japan"), ("DE", "德国", "Germany"), ("AE", "阿联酋", "Abu Dhabi"),
)

UNIVERSITIES = ("重庆大学", "西南大学", "重庆邮电大学", "重庆理工大学", "重庆医科大学", "陆军军医大学",
                "中国科学院重庆绿色智能技术研究院", "重庆交通大学", "西南政法大学", "四川大学",
                "电子科技大学")
NATURE = ("高新技术企业", "科技型中小企业", "民营企业", "创新型企业", "制造企业", "服务企业")
FOREIGN_MARKETS = ("东南亚", "中东", "欧洲", "拉美", "非洲", "中亚", "日韩")
INVESTOR_KINDS = ("知名创投机构", "产业资本", "市级国有基金", "区县引导基金", "券商直投", "头部PE机构")
STAGE_WORDS = {"early": "早期", "growth": "成长期", "late": "成熟期", "pre_ipo": "Pre-IPO阶段"}
VALUE_ADDS = (
    "可提供上市辅导、规范治理与产业资源对接等投后赋能",
    "看重核心技术壁垒与团队执行力",
    "偏好已实现规模化收入、现金流健康的企业",
    "关注国产替代与自主可控机会",
    "重视企业的研发投入与知识产权储备",
    "愿意陪伴企业穿越周期，长期持有",
    "可联合银行、担保机构提供投贷联动方案",
    "关注企业的ESG表现与绿色转型",
    "擅长产业链上下游整合与并购",
    "倾向领投并派驻董事",
    "以跟投为主，与头部机构协同",
)
DEBT_POINTS = (
    "支持轻资产科技企业以知识产权质押融资",
    "审批流程线上化，最快五个工作日放款",
    "可与区域性股权市场挂牌信息联动增信",
    "对专精特新企业给予利率优惠",
    "接受股权、知识产权等多种担保方式",
    "提供投贷联动与认股权安排",
)
S_POINTS = (
    "专注二级份额与老股转让",
    "偏好投资期已过、资产清晰的成熟基金份额",
    "可为临近到期基金提供流动性解决方案",
    "关注拟上市企业的老股机会",
    "可采用接续基金等多种交易结构",
)
