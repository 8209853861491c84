"""The console's words in Chinese (the default) and English.

The language is ``?lang=zh|en`` on any page (remembered in the ``cc_lang`` cookie), else the cookie,
else Chinese. Templates call ``t("key")``; a key missing here is shown as itself, so a typo is visible
on the page rather than an empty label. Only the texts of :data:`TEXT` are format strings: a key that is
not one of them (it may come from a URL) is never formatted, so ``{nope}`` cannot raise and
``{x:>999999999}`` cannot build a gigabyte string.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request

LANGS = ("zh", "en")
LANG_COOKIE = "cc_lang"

TEXT: dict[str, tuple[str, str]] = {
    "brand": ("科创资本通", "Sci-Tech Capital Connect"),
    "tagline": ("重庆区域性股权市场 · 投融资撮合", "Chongqing regional equity market · deal matching"),
    "switch_lang": ("English", "中文"),
    "api_docs": ("API 文档", "API docs"),
    "sign_in": ("登录", "Sign in"),
    "sign_out": ("退出", "Sign out"),
    "signin_title": ("使用 API 密钥登录", "Sign in with your API key"),
    "signin_help": ("粘贴平台为您签发的 API 密钥（以 cck_ 开头）。密钥只保存在本浏览器的安全 Cookie 中。",
                    "Paste the API key the platform issued to you (it starts with cck_). It is kept only in a "
                    "secure cookie of this browser."),
    "signin_nokey": ("没有密钥？请联系平台运营人员签发（capconnect keys create）。",
                     "No key? Ask the platform's operators to issue one (capconnect keys create)."),
    "api_key": ("API 密钥", "API key"),
    "bad_key": ("密钥无效，请检查后重新粘贴。", "That key is not valid; check it and paste it again."),
    "revoked_key": ("该密钥已被吊销，请向管理员申请新密钥。",
                    "That key was revoked; ask an administrator for a new one."),
    "signed_out": ("您已退出登录。", "You are signed out."),
    "session_expired": ("登录已失效，请重新登录。", "Your session ended; please sign in again."),
    "role": ("角色", "Role"),
    "role_admin": ("管理员", "Administrator"),
    "role_operator": ("运营人员", "Operator"),
    "role_investor": ("投资方", "Investor"),
    "role_enterprise": ("企业", "Enterprise"),
    "role_data_scientist": ("数据科学家", "Data scientist"),
    "nav_deals": ("推荐项目", "Deals"),
    "nav_enterprise": ("资金推荐", "Funding"),
    "nav_operator": ("撮合成效", "Outcomes"),
    "nav_models": ("模型", "Models"),
    "nav_alerts": ("提醒", "Alerts"),
    "unread_badge": ("{n} 条未读提醒", "{n} unread alerts"),
    # investor
    "deals_title": ("为您推荐的项目", "Deals for you"),
    "deals_for": ("投资方", "Investor"),
    "filters": ("筛选", "Filters"),
    "board": ("特色板块", "Board"),
    "tier": ("层级", "Tier"),
    "district": ("区县", "District"),
    "instrument": ("融资方式", "Instrument"),
    "amount_min": ("最低金额（万元）", "Min amount (10k yuan)"),
    "amount_max": ("最高金额（万元）", "Max amount (10k yuan)"),
    "any": ("不限", "Any"),
    "apply": ("应用筛选", "Apply"),
    "reset": ("清除", "Clear"),
    "score": ("匹配度", "Match"),
    "band_high": ("高匹配", "Strong match"),
    "band_mid": ("中匹配", "Fair match"),
    "band_low": ("低匹配", "Weaker match"),
    "score_model": ("本次推荐第 {pos}/{n} 位。模型估计的对接概率 {p}%"
                    "（大多数配对从未对接，最佳项目通常也只有百分之几）",
                    "{pos} of {n} in this list. The model's estimated chance of engaging: {p}% (most pairs never "
                    "engage, so even the best deal is a few per cent)"),
    "score_rules": ("本次推荐第 {pos}/{n} 位。内容与规则评分 {p}（尚无训练好的模型）",
                    "{pos} of {n} in this list. Content and rules score {p} (no trained model yet)"),
    "need": ("融资需求", "Need"),
    "amount": ("金额", "Amount"),
    "round": ("轮次", "Round"),
    "closes_on": ("截止", "Closes"),
    "why": ("推荐理由", "Why this match"),
    "save": ("收藏", "Save"),
    "saved": ("已收藏", "Saved"),
    "dismiss": ("不感兴趣", "Dismiss"),
    "dismissed": ("已忽略", "Dismissed"),
    "request_contact": ("请求联系", "Request contact"),
    "contact_requested": ("已请求联系", "Contact requested"),
    "contact_accepted": ("企业已同意联系", "Contact accepted"),
    "declined": ("企业已婉拒", "Declined"),
    "recorded": ("已记录", "Recorded"),
    "already_recorded": ("此前已记录", "Already recorded"),
    "profile": ("企业详情", "Profile"),
    "no_deals": ("暂无符合条件的项目。可以放宽筛选条件，或稍后再来看看。",
                 "No deals fit these filters. Loosen the filters, or come back later."),
    "list_meta": ("列表编号 {list_id} · 模型 {model}", "List {list_id} · model {model}"),
    "pick_investor": ("运营视图：输入要查看的投资方编号", "Staff view: enter the investor id to look at"),
    "pick_enterprise": ("运营视图：输入要查看的企业编号", "Staff view: enter the enterprise id to look at"),
    "go": ("查看", "Show"),
    "loading": ("加载中…", "Loading…"),
    "sending": ("提交中…", "Sending…"),
    "failed": ("操作失败", "Failed"),
    # enterprise profile
    "back": ("返回", "Back"),
    "credit_code": ("统一社会信用代码", "Credit code"),
    "industry": ("行业", "Industry"),
    "founded_on": ("成立日期", "Founded"),
    "registered_capital": ("注册资本", "Registered capital"),
    "listing_target": ("上市目标", "Listing target"),
    "qualifications": ("资质", "Qualifications"),
    "description": ("简介", "About"),
    "financials": ("财务数据", "Financials"),
    "year": ("年度", "Year"),
    "revenue": ("营业收入", "Revenue"),
    "net_profit": ("净利润", "Net profit"),
    "revenue_growth": ("收入增长", "Revenue growth"),
    "rd_ratio": ("研发投入占比", "R&D ratio"),
    "employees": ("员工数", "Employees"),
    "patents": ("专利", "Patents"),
    "withheld": ("未披露", "Withheld"),
    "disclosure_title": ("信息披露", "Disclosure"),
    "withheld_title": ("未披露的信息", "What is not shown"),
    "withheld_registered_capital": ("注册资本", "Registered capital"),
    "withheld_operating_metrics": ("经营指标（员工、专利、研发占比、增长）",
                                   "Operating metrics (employees, patents, R&D ratio, growth)"),
    "withheld_financials": ("营业收入与净利润", "Revenue and net profit"),
    "all_disclosed": ("您可以查看该企业的全部信息。", "You can see everything about this enterprise."),
    "basis_staff": ("平台工作人员可查看全部信息。", "Platform staff see everything."),
    "basis_internal": ("平台内部角色可查看全部信息。", "Platform-internal roles see everything."),
    "basis_own": ("这是您自己的企业。", "This is your own enterprise."),
    "basis_other_enterprise": ("其他企业只能查看公开信息。", "Other enterprises see the public profile only."),
    "basis_tier:basic": ("基础层企业仅披露公开信息。", "Basic-tier enterprises disclose the public profile only."),
    "basis_tier:growth": ("成长层企业披露经营指标，收入与利润金额不公开。",
                          "Growth-tier enterprises disclose operating metrics, not revenue or profit amounts."),
    "basis_tier:select": ("优选层企业完整披露。", "Select-tier enterprises disclose everything."),
    "basis_disclosure:public": ("企业选择了完全公开。", "The enterprise chose to disclose everything."),
    "basis_disclosure:on_request": ("企业选择仅在同意联系后披露。",
                                    "The enterprise discloses only after accepting contact."),
    "basis_contact_accepted": ("企业已同意您的联系请求，财务数据已向您披露。",
                               "The enterprise accepted your contact request: its financials are shown to you."),
    "not_on_file": ("未填报", "Not on file"),
    # enterprise page
    "funds_title": ("为您推荐的资金方", "Suggested funds and financing"),
    "requests_title": ("收到的联系请求", "Contact requests"),
    "requests_help": ("同意后，该投资方即可查看贵企业的财务数据；其他投资方不受影响。",
                      "Accepting shows your financials to that investor only; other investors are not affected."),
    "accept": ("同意", "Accept"),
    "decline": ("婉拒", "Decline"),
    "accepted_note": ("已同意：对方现在可以查看您的财务数据。", "Accepted: they can now see your financials."),
    "declined_note": ("已婉拒。", "Declined."),
    "no_requests": ("暂无新的联系请求。", "No new contact requests."),
    "no_funds": ("暂无匹配的资金方。完善融资需求后再来看看。",
                 "No matching funds yet. Complete your financing needs and check again."),
    "investor_type": ("机构类型", "Investor type"),
    "no_funds_yet": ("暂无匹配的资金方：贵企业还没有开放的融资需求。发布一条需求后，平台会为其推荐投资机构。",
                     "No matching funds yet: you have no open financing need. Publish one and the platform "
                     "suggests investors for it."),
    "publish_title": ("发布融资需求", "Publish a financing need"),
    "publish_help": ("填写融资方式和金额即可发布；发布后投资机构可以看到，推荐将在下次市场刷新后更新（通常几分钟内）。",
                     "The instrument and the amount are enough. Investors see it once published; suggestions "
                     "update at the next market refresh (usually within minutes)."),
    "need_amount": ("融资金额（万元）", "Amount (10k yuan)"),
    "use_of_funds": ("资金用途", "Use of funds"),
    "publish": ("发布", "Publish"),
    "need_published": ("融资需求（编号 {id}）已发布，推荐将在下次市场刷新后更新。",
                       "Financing need {id} is published; suggestions update at the next market refresh."),
    "products_title": ("现在就可申请的融资产品", "Financing products you could use now"),
    "products_help": ("银行、担保和其他放贷机构通过债权类工具（如知识产权质押贷、上市贷）提供资金，"
                      "以下机构的投资偏好覆盖贵企业。",
                      "Banks, guarantee companies and other lenders provide debt instruments (IP-pledge loans, "
                      "pre-IPO loans …); these lenders' mandates cover your enterprise."),
    "no_products": ("暂无覆盖贵企业的放贷机构。", "No lender's mandate covers your enterprise yet."),
    "ticket": ("单笔区间", "Ticket"),
    "requested_at": ("请求时间", "Requested"),
    # operator
    "outcomes_title": ("撮合成效", "Matching outcomes"),
    "period": ("统计区间", "Period"),
    "data_ends": ("数据截至 {day}，默认显示截至该日的 30 天",
                  "The data ends on {day}: by default the 30 days up to it"),
    "from": ("开始", "From"),
    "to": ("结束", "To"),
    "metric": ("指标", "Metric"),
    "by_district": ("按区县", "By district"),
    "by_board": ("按特色板块", "By board"),
    "by_tier": ("按层级", "By tier"),
    "by_investor_type": ("按机构类型", "By investor type"),
    "lists_served": ("推荐列表数", "Lists served"),
    "impressions": ("曝光次数", "Impressions"),
    "contacts_requested": ("请求联系", "Contacts requested"),
    "contacts_accepted": ("同意联系", "Contacts accepted"),
    "meetings": ("会面", "Meetings"),
    "investments": ("投资笔数", "Investments"),
    "enterprises_funded": ("获投企业数", "Enterprises funded"),
    "amount_invested": ("投资金额（元）", "Amount invested (yuan)"),
    "total": ("合计", "Total"),
    "no_data": ("该区间暂无数据。", "No data in this period."),
    "download_csv": ("下载 CSV", "Download CSV"),
    "import_title": ("批量导入", "Bulk import"),
    "import_help": ("上传 CSV（UTF-8 或 GBK）、XLSX 或 JSONL。任何一行不合法时整个文件都不会导入，"
                    "除非勾选“跳过不合法的行”。",
                    "Upload CSV (UTF-8 or GBK), XLSX or JSONL. A bad row stops the whole file unless you tick "
                    "'skip invalid rows'."),
    "entity": ("数据类型", "Records"),
    "entity_enterprises": ("企业", "Enterprises"),
    "entity_investors": ("投资方", "Investors"),
    "entity_mandates": ("投资偏好", "Mandates"),
    "entity_needs": ("融资需求", "Financing needs"),
    "entity_secondaries": ("份额转让", "Secondaries"),
    "entity_events": ("撮合事件", "Funnel events"),
    "file": ("文件", "File"),
    "skip_invalid": ("跳过不合法的行，导入其余行", "Skip invalid rows, import the rest"),
    "upload": ("上传并导入", "Upload and import"),
    "import_ok": ("导入完成：共 {rows} 行。", "Imported: {rows} rows."),
    "import_failed": ("导入失败", "Import failed"),
    "row": ("行", "Row"),
    "field": ("字段", "Field"),
    "value": ("值", "Value"),
    "reason": ("原因", "Reason"),
    "rejected_rows": ("被拒绝的行", "Rejected rows"),
    "import_counts": ("{table}：新增 {inserted}，更新 {updated}，未变 {unchanged}",
                      "{table}: {inserted} new, {updated} updated, {unchanged} unchanged"),
    "import_later": ("新导入的数据将在下次市场刷新后进入推荐。",
                     "New records are matched after the next market refresh."),
    # models
    "models_title": ("模型版本", "Model versions"),
    "serving": ("正在服务", "Serving"),
    "active": ("已启用", "Active"),
    "version": ("版本", "Version"),
    "status": ("状态", "Status"),
    "created_at": ("创建时间", "Created"),
    "served_investor": ("机构端项目清单所用评分", "Investor deal lists rank by"),
    "served_enterprise": ("企业端机构清单所用评分", "Enterprise investor lists rank by"),
    "metrics": ("评估指标", "Metrics"),
    "plots": ("评估图表", "Plots"),
    "promote": ("启用此版本", "Promote"),
    "force": ("强制（即使未优于当前版本）", "Force (even if not better than the active one)"),
    "rollback": ("回滚到上一版本", "Roll back to the previous version"),
    "no_models": ("还没有训练好的模型，当前使用内容与规则打分（content-rules）。点击上方“开始训练”，"
                  "或在服务器上运行 capconnect train。",
                  "No trained model yet; the content + rules score serves. Press Start training above, or run "
                  "capconnect train on the server."),
    "promoted": ("已启用 {version}，正在服务 {serving}。", "Promoted {version}; serving {serving}."),
    "rolled_back": ("已回滚到 {version}。", "Rolled back to {version}."),
    "refused_model": ("模型 {version} 校验失败，未启用：{reason}", "Model {version} was refused: {reason}"),
    "retrain_title": ("重新训练", "Retrain"),
    "retrain": ("开始训练", "Start training"),
    "retrain_promote": ("优于当前版本时自动启用", "Promote it when it beats the active version"),
    "retrain_help": ("训练任务由后台进程 capconnect worker 执行（一次一个），本页显示进度。",
                     "The job is run by the background process capconnect worker (one at a time); this page "
                     "shows its progress."),
    "job_id": ("任务", "Job"),
    "job_queued": ("排队中", "Queued"),
    "job_running": ("训练中", "Running"),
    "job_succeeded": ("已完成", "Succeeded"),
    "job_failed": ("失败", "Failed"),
    "job_queued_help": ("任务已排队，等待 capconnect worker 开始执行。", "Queued: waiting for capconnect worker."),
    "job_no_worker": ("任务仍在排队：似乎没有运行中的 capconnect worker。请在服务器上运行 capconnect worker，"
                      "任务会保留在队列中直到被执行。",
                      "The job is still queued: no capconnect worker seems to be running. Start capconnect worker "
                      "on the server; the job stays queued until one runs it."),
    "job_reloads": ("本页每 {s} 秒自动刷新。", "This page reloads every {s} seconds."),
    "status_candidate": ("候选", "Candidate"),
    "status_active": ("已启用", "Active"),
    "status_retired": ("已停用", "Retired"),
    "status_rejected": ("已拒绝", "Rejected"),
    # listing readiness (api.web.readiness)
    "nav_pipeline": ("上市培育", "Listing pipeline"),
    "readiness_title": ("上市准备度", "Listing readiness"),
    "readiness_help": ("根据贵企业自报的年度财务数据，对照下一层级及各板块的上市标准逐条比对；"
                       "评分为最接近的一组标准中各项的达成度（未达标项按差距比例折算），"
                       "达到 {near}% 以上为“接近标准”。"
                       "市值、净资产、股改等平台未掌握的条件列为“无法评估”，不计入评分。",
                       "Your own yearly figures checked against the next tier's and each board's standard, "
                       "criterion by criterion. The score is how much of the closest set you meet (a missed "
                       "criterion counts by how close it is); {near}% or more is 'close'. Conditions the platform "
                       "holds no data on (market value, net assets, joint-stock conversion …) are shown as not "
                       "assessable and not scored."),
    "readiness_version": ("标准版本 {v}", "Standards version {v}"),
    "readiness_changes": ("最能提升准备度的改进", "Changes that would move you most"),
    "readiness_score": ("评分 {s}%", "score {s}%"),
    "readiness_best_set": ("最接近的一组标准", "Closest set of criteria"),
    "readiness_other_sets": ("其他 {n} 组可选标准", "{n} other set(s) of criteria"),
    "readiness_placeholder": ("待确认：该标准的部分数值未公开或未能核实（如重庆股份转让中心各层级标准），"
                              "以运营方确认为准。",
                              "To be confirmed: some figures of this standard are not public or not verified (e.g. "
                              "the Chongqing equity exchange's tier standards); operators will confirm them."),
    "to_be_confirmed": ("待确认", "To be confirmed"),
    "rd_criterion": ("条件", "Criterion"),
    "rd_figure": ("贵企业数据", "Your figure"),
    "rd_years": ("数据年份", "Year(s)"),
    "rd_standard": ("标准", "Standard"),
    "rd_result": ("结果", "Result"),
    "rd_source": ("依据", "Source"),
    "rd_met": ("达标", "Met"),
    "rd_met_by": ("达标（高出 {x}）", "Met (by {x})"),
    "rd_missed_by": ("未达标，差 {x}", "Missed by {x}"),
    "rd_unknown_no_figure": ("缺少数据，请补充填报", "No figure on file: please report it"),
    "rd_unknown_not_assessable": ("平台数据无法评估", "Not assessable from platform data"),
    "rd_unknown_not_public": ("标准未公开，待确认", "Standard not public: to be confirmed"),
    "rd_no_date": ("日期未知", "date unknown"),
    "rd_step": ("须完成", "Required"),
    "pipeline_title": ("上市培育进度", "Listing pipeline"),
    "pipeline_help": ("各目标（下一层级、各板块）下企业数：已达标、财务指标已达标（市值等条件待核）、"
                      "接近标准（评分≥{near}%）、差距较大、无法评估。层级目标只统计下一层级为该层的企业。",
                      "Per target (the next tier, each board): enterprises met, financial criteria met (market "
                      "value and other conditions to be checked), close (score ≥ {near}%), far, and not "
                      "assessable. A tier target counts the enterprises of the tier below only."),
    "pipeline_board": ("目标板块", "Target"),
    "pipeline_assessed": ("评估企业数", "Assessed"),
    "pipeline_enterprises": ("{n} 家企业", "{n} enterprises"),
    "pipeline_by_district": ("按区县", "By district"),
    "status_met": ("已达标", "Met"),
    "status_met_on_platform_data": ("财务已达标", "Financials met"),
    "status_near": ("接近", "Close"),
    "status_far": ("差距较大", "Far"),
    "status_unknown": ("无法评估", "Not assessable"),
    # support programmes (api.web.programmes)
    "nav_programmes": ("扶持政策", "Programmes"),
    "entity_programmes": ("扶持政策", "Support programmes"),
    "programmes_title": ("扶持政策", "Support programmes"),
    "programmes_unread": ("有 {n} 条新的符合条件的扶持政策", "{n} new programme(s) you qualify for"),
    "programmes_qualifies": ("符合条件", "You qualify"),
    "programmes_near": ("差一点符合", "Near misses"),
    "programmes_near_help": ("只差一项条件（数值差距不超过 20%，或尚未填报）的政策，以及还缺什么。",
                             "Programmes you miss by one rule (a figure short by at most 20 %, or not reported), "
                             "and what is missing."),
    "programmes_missing": ("还缺什么", "What is missing"),
    "programmes_none": ("暂无符合条件的扶持政策。", "No programme you qualify for yet."),
    "programmes_none_near": ("暂无差一点符合的政策。", "No near misses."),
    "programmes_staff_title": ("扶持政策与覆盖企业", "Support programmes and their reach"),
    "programmes_staff_help": ("每项政策今天符合条件、差一点符合和已通知的企业数。通知只发一次。",
                              "For each programme, the enterprises that qualify today, nearly qualify, and have "
                              "been told. Each is told once."),
    "programmes_none_staff": ("没有扶持政策。可在撮合成效页导入（数据类型：扶持政策）。",
                              "No programmes. Import them on the Outcomes page (kind: Support programmes)."),
    "programme_name": ("政策", "Programme"),
    "programme_kind": ("政策类型", "Kind"),
    "issuer": ("发布单位", "Issuer"),
    "max_amount": ("单户最高", "Up to"),
    "policy_link": ("政策原文", "Policy text"),
    "window": ("申报状态", "Window"),
    "window_open": ("申报中", "Open"),
    "window_upcoming": ("未开始", "Not yet open"),
    "window_closed": ("已截止", "Closed"),
    "qualified": ("符合条件", "Qualify"),
    "near_misses": ("差一点", "Near misses"),
    "told": ("已通知", "Told"),
    "sample": ("示例", "Sample"),
    "new": ("新", "New"),
    # the profile export (api.web.exports)
    "profile_export_title": ("企业画像导出", "Enterprise profiles export"),
    "profile_export_help": ("供政府数据平台（渝快办、市公共数据资源管理平台）使用：每家企业一条记录，含档案、层级变化、"
                            "上市准备度、匹配的扶持政策和撮合成效（去重计数）。按企业的披露设置导出，未披露的数据为空，"
                            "导出的保密数据逐企业记入审计日志。格式版本 1.0，字段说明见 README。",
                            "For government data platforms: one record per enterprise with its profile, tier history, "
                            "listing readiness, programmes matched and funnel counts, as far as each enterprise's "
                            "disclosure settings allow (withheld figures are empty); confidential figures exported "
                            "are audited. Schema 1.0, documented in the README."),
    "export_format": ("格式", "Format"),
    "export_encoding": ("编码（仅 CSV）", "Encoding (CSV only)"),
    "download": ("下载", "Download"),
    # errors
    "error": ("出错了", "Something went wrong"),
    "forbidden_title": ("无权访问", "Not allowed"),
    "forbidden_text": ("您的角色（{role}）不能访问此页面。", "Your role ({role}) may not open this page."),
    "csrf_failed": ("表单已过期或来源不明，请刷新页面后重试。",
                    "The form expired or did not come from this site; reload the page and try again."),
    "not_found": ("页面不存在。", "This page does not exist."),
    "try_again": ("请稍后重试。", "Please try again later."),
    "home": ("首页", "Home"),
}


def lang_of(request: Request) -> str:
    """The page's language: ``?lang=``, else the cookie, else Chinese."""
    asked = request.query_params.get("lang")
    if asked in LANGS:
        return asked
    kept = request.cookies.get(LANG_COOKIE)
    return kept if kept in LANGS else "zh"


def translator(lang: str) -> Callable[..., str]:
    """``t(key, **values)``: the text of ``key`` in ``lang`` with ``{name}`` placeholders filled."""
    index = 1 if lang == "en" else 0

    def t(key: str, **values: object) -> str:
        pair = TEXT.get(key)
        if pair is None:
            return key  # never a format string: the key may be user input
        return pair[index].format(**values) if values else pair[index]

    return t


def pick(lang: str, zh: str | None, en: str | None) -> str:
    """One of a bilingual pair (falling back to the other when one is missing)."""
    return (en or zh or "") if lang == "en" else (zh or en or "")
