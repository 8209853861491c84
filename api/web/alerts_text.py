"""The words of the console's 提醒 / Alerts page (:mod:`api.web.alerts`), in Chinese and English.

Kept beside the page (as :mod:`api.web.similar` keeps its panel's) so that :mod:`api.web.i18n` holds the words
every page shares; ``t("nav_alerts")`` there names the page in the navigation. Texts with ``{name}`` are
format strings filled by the page, never with a value from the URL.
"""

from __future__ import annotations

from api.web.i18n import pick

WORDS: dict[str, tuple[str, str]] = {
    "title": ("提醒", "Alerts"),
    "help": ("当新的融资需求进入您投资方向或保存的检索的前 N 名（且不低于您设的门槛）时，这里会出现一条提醒。"
             "理由与财务数据按披露规则显示。",
             "An alert appears here when a new financing need enters the top N of your mandate or of a saved "
             "search (at or above your threshold). Reasons and figures are shown as disclosed to you."),
    "help_staff": ("当新的融资需求进入该投资方的投资方向或保存的检索的前 N 名（且不低于其门槛）时，会出现一条提醒。"
                   "理由与财务数据按该投资方可见的披露范围显示。",
                   "An alert appears when a new financing need enters the top N of this investor's mandate or of a "
                   "saved search (at or above its threshold). Reasons and figures are shown as disclosed to it."),
    "for": ("投资方", "Investor"),
    "staff_readonly": ("您正在以只读方式查看该投资方的提醒与设置；标记已读和修改设置只能由投资方本人操作。",
                       "You are viewing this investor's alerts and settings read-only; only the investor marks "
                       "alerts read or changes settings."),
    "pick_investor": ("投资方编号", "Investor ID"),
    "show": ("查看", "Show"),
    "unread_count": ("{n} 条未读", "{n} unread"),
    "all": ("全部", "All"),
    "unread_only": ("仅未读", "Unread only"),
    "mark_all_read": ("全部标为已读", "Mark all read"),
    "mark_read": ("标为已读", "Mark read"),
    "unread": ("未读", "Unread"),
    "read": ("已读", "Read"),
    "none": ("暂无提醒。发布了符合您投资方向的新需求时会在这里出现。",
             "No alerts yet. They appear here when a need that fits your mandate is published."),
    "none_unread": ("没有未读提醒。", "No unread alerts."),
    "query_mandate": ("来自：投资方向", "From: your mandate"),
    "query_search": ("来自：保存的检索“{name}”", "From: saved search “{name}”"),
    "query_deleted": ("来自：已删除的检索 #{id}", "From: deleted saved search #{id}"),
    "band_model": ("进入前 {n} 名时排第 {rank} 位。模型估计的对接概率 {p}%"
                   "（大多数配对从未对接，最佳项目通常也只有百分之几）",
                   "Entered your top {n} at place {rank}. The model's estimated chance of engaging: {p}% (most "
                   "pairs never engage, so even the best deal is a few per cent)"),
    "band_rules": ("进入前 {n} 名时排第 {rank} 位。内容与规则评分 {p}（尚无训练好的模型）",
                   "Entered your top {n} at place {rank}. Content and rules score {p} (no trained model yet)"),
    "created": ("时间", "Time"),
    "open_card": ("查看企业", "Open the company"),
    "ref": ("需求编号", "Need ref"),
    "delivered": ("已通过 Webhook 推送", "Sent to your webhook"),
    "failed": ("Webhook 推送失败（已停止重试）", "Webhook delivery failed (retries exhausted)"),
    "newer": ("← 较新", "← Newer"),
    "older": ("较早 →", "Older →"),
    "page_of": ("第 {a}–{b} 条，共 {total} 条", "{a}–{b} of {total}"),
    # settings
    "settings": ("提醒设置", "Alert settings"),
    "mandate_alerts": ("按投资方向提醒", "Alert on my mandate"),
    "top_n": ("前 N 名", "Top N"),
    "top_n_help": ("新项目进入此名次以内才提醒（1–100）", "Alert only when a deal enters this many (1–100)"),
    "min_score": ("评分门槛", "Score threshold"),
    "min_score_help": ("与推荐列表的评分同一尺度（有模型时为 0–1 的概率）；留空表示不设门槛",
                       "On the deal list's score scale (with a model, a probability from 0 to 1); empty: none"),
    "delivery": ("推送方式", "Delivery"),
    "delivery_immediate": ("即时推送", "Immediately"),
    "delivery_daily": ("每日汇总", "Daily digest"),
    "delivery_weekly": ("每周汇总", "Weekly digest"),
    "delivery_help": ("汇总只影响 Webhook 推送；提醒总会立即出现在本页。",
                      "Digests only change webhook posts; alerts always appear on this page at once."),
    "on": ("开启", "On"),
    "off": ("关闭", "Off"),
    "no_threshold": ("不设门槛", "None"),
    "save": ("保存设置", "Save settings"),
    "saved_settings": ("设置已保存。", "Settings saved."),
    # saved searches
    "searches": ("保存的检索", "Saved searches"),
    "searches_help": ("每个检索（筛选条件加关键词）与投资方向一样持续匹配新项目。",
                      "Each search (filters plus free text) is matched against new deals, like your mandate."),
    "no_searches": ("还没有保存的检索。", "No saved searches yet."),
    "new_search": ("新建检索", "New search"),
    "name": ("名称", "Name"),
    "text": ("关键词", "Free text"),
    "text_placeholder": ("例如：锂电池 A轮", "e.g. lithium battery series A"),
    "filters": ("筛选", "Filters"),
    "no_filters": ("不限", "Any"),
    "create_search": ("保存检索", "Save search"),
    "delete": ("删除", "Delete"),
    "created_search": ("检索已保存。", "Search saved."),
    "deleted_search": ("检索已删除。", "Search deleted."),
    "paused": ("已暂停", "Paused"),
    "active": ("生效中", "Active"),
    # the webhook
    "webhook": ("Webhook 推送", "Webhook"),
    "webhook_help": ("登记一个 HTTPS 地址，提醒会以带签名的请求推送到该地址；失败会按指数退避重试。",
                     "Register an HTTPS address: alerts are POSTed to it, signed; failures are retried with "
                     "exponential backoff."),
    "no_webhook": ("尚未登记 Webhook。", "No webhook registered."),
    "url": ("地址", "URL"),
    "register": ("登记 Webhook", "Register webhook"),
    "replace": ("更换地址（会生成新的密钥）", "Replace the URL (makes a new secret)"),
    "remove": ("删除 Webhook", "Remove webhook"),
    "removed": ("Webhook 已删除。提醒仍会显示在本页。", "Webhook removed. Alerts still appear on this page."),
    "since": ("登记于", "Registered"),
    "secret_ready": ("Webhook 已登记。签名密钥只显示这一次，请在下方复制保存 ↓",
                     "Webhook registered. Its signing secret is shown this once: copy it below ↓"),
    "secret_title": ("签名密钥（只显示这一次）", "Signing secret (shown this once)"),
    "secret_help": ("请立即复制并妥善保存：离开本页后无法再次查看。丢失后重新登记即可获得新密钥。",
                    "Copy it now and keep it safe: it cannot be shown again. If lost, register again for a new one."),
    "copy": ("复制", "Copy"),
    "copied": ("已复制", "Copied"),
    "copy_failed": ("无法自动复制，请手动选中复制", "Could not copy; select it and copy by hand"),
    "signature": ("签名方式", "How posts are signed"),
    "signature_help": ("收到推送后，用密钥对“时间戳 + '.' + 原始请求体”计算 HMAC-SHA256，与签名头比对，"
                       "并拒绝过旧的时间戳；"
                       "同一提醒的重试带有相同的提醒编号，可据此去重。",
                       "On receipt, compute HMAC-SHA256 with the secret over “timestamp + '.' + raw body”, compare "
                       "it with the signature header and refuse old timestamps; retries of one alert carry the same "
                       "alert id, so deduplicate on it."),
    "deliveries": ("推送记录", "Delivery log"),
    "no_deliveries": ("还没有推送记录。", "No deliveries yet."),
    "at": ("时间", "Time"),
    "notification": ("通知", "Notification"),
    "attempt_n": ("第 {n} 次", "attempt {n}"),
    "hook_state": ("状态", "State"),
    "hdr_timestamp": ("发送时的 Unix 时间（秒）", "Unix time of sending, in seconds"),
    "hdr_signature": ("签名：sha256= 加上述计算结果的十六进制", "The signature: sha256= and the hex digest above"),
    "hdr_alert_id": ("通知编号：重试时不变，可据此去重", "The notification id: the same on every retry, dedupe on it"),
    "hdr_attempt": ("第几次尝试（从 1 开始）", "Which attempt this is (from 1)"),
    "status": ("状态码", "Status"),
    "outcome": ("结果", "Outcome"),
    "ok": ("成功", "Delivered"),
    "not_ok": ("失败", "Failed"),
    # form errors
    "form_error": ("未保存：", "Not saved: "),
    "field": ("字段", "Field"),
    "value": ("填写的值", "Value"),
    "allowed": ("允许的值", "Allowed"),
    "empty": ("（空）", "(empty)"),
}

#: Reasons of pydantic's error types, in both languages (``{ge}``, ``{le}``… from the error's context).
REASONS: dict[str, tuple[str, str]] = {
    "greater_than_equal": ("须不小于 {ge}", "must be at least {ge}"),
    "less_than_equal": ("须不大于 {le}", "must be at most {le}"),
    "greater_than": ("须大于 {gt}", "must be more than {gt}"),
    "int_parsing": ("须为整数", "must be a whole number"),
    "int_from_float": ("须为整数", "must be a whole number"),
    "float_parsing": ("须为数字", "must be a number"),
    "finite_number": ("须为有限的数字", "must be a finite number"),
    "string_too_short": ("至少 {min_length} 个字符", "at least {min_length} characters"),
    "string_too_long": ("最多 {max_length} 个字符", "at most {max_length} characters"),
    "literal_error": ("须为以下之一", "must be one of the allowed values"),
    "missing": ("必填", "required"),
}


def words(lang: str) -> dict[str, str]:
    """The page's words in ``lang``."""
    return {k: pick(lang, zh, en) for k, (zh, en) in WORDS.items()}


def reason(kind: str, context: dict[str, object], lang: str) -> str | None:
    """The reason of a pydantic error type in ``lang`` (``None``: a type not listed here)."""
    pair = REASONS.get(kind)
    if pair is None:
        return None
    try:
        return pick(lang, *pair).format(**{k: v for k, v in context.items() if isinstance(v, (int, float, str))})
    except (KeyError, IndexError):
        return None
