"""Every text of the desk's pages and the customer's view, in English and Simplified Chinese,
and how a page picks its language and writes times. Pure.

Templates only lay texts out, through `t(key, **values)`; what it returns is plain text that
Jinja2 escapes like any other value. A person's pages follow their `locale`, the customer's
view the ticket's, the sign-in page the browser's `Accept-Language`.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

LOCALES = ("en", "zh-CN")

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "desk": "kefu desk",
        "sign_in": "Sign in",
        "login": "Email or id",
        "password": "Password",
        "wrong_login": "Unknown login or wrong password.",
        "locked": "Too many failed sign-ins. Try again in {minutes} min.",
        "403.title": "This form was refused",
        "403.detail": "It has expired or came from another site. Go back, reload and try again.",
        "sign_out": "Sign out",
        "signed_in_as": "Signed in as {name}",
        "presence": "Presence",
        "presence.online": "Online",
        "presence.away": "Away",
        "presence.offline": "Offline",
        "search": "Search tickets",
        "search.go": "Search",
        "search.results": "Tickets with “{q}”",
        "search.none": "No ticket holds these words.",
        "search.more": "Older results",
        "mine": "My tickets",
        "mine.none": "No open tickets are assigned to you.",
        "queue": "Queue",
        "queue.none": "No ticket is waiting for an agent.",
        "col.status": "Status",
        "col.due": "SLA",
        "no_subject": "(no subject)",
        "no_due": "no running target",
        "due.in": "due in {t}",
        "due.over": "overdue by {t}",
        "span.d": "{d} d {h} h",
        "span.h": "{h} h {m} min",
        "span.m": "{m} min {s} s",
        "status.new": "New",
        "status.open": "Open",
        "status.pending": "Pending",
        "status.on_hold": "On hold",
        "status.solved": "Solved",
        "status.closed": "Closed",
        "ticket": "Ticket #{ticket_id}",
        "facts.requester": "Customer",
        "facts.assignee": "Assignee",
        "facts.tier": "Tier",
        "facts.channel": "Channel",
        "facts.category": "Category",
        "facts.nobody": "nobody",
        "conversation": "Conversation",
        "conversation.none": "Nothing here yet.",
        "author.customer": "Customer",
        "author.system": "kefu",
        "author.you": "You",
        "author.support": "Support",
        "note": "Internal note",
        "on_behalf": "for {agent}",
        "attachments": "Attachments",
        "history": "The customer's other tickets",
        "history.none": "None.",
        "reply": "Reply to the customer",
        "reply.send": "Send reply",
        "note.add": "Add note",
        "note.label": "Internal note (never shown to the customer)",
        "status.set": "Set status",
        "priority": "Priority",
        "priority.set": "Set priority",
        "transfer": "Transfer",
        "transfer.agent": "To agent (id)",
        "transfer.skill": "or to skill",
        "transfer.send": "Transfer",
        "reason": "Reason",
        "escalate": "Escalate",
        "escalate.send": "Escalate to the next tier",
        "macro": "Macro",
        "macro.apply": "Apply macro",
        "macro.none": "No macros yet.",
        "macro.unknown": "No such macro.",
        "sent": "What you sent",
        "command.pending": "{action}: sending…",
        "command.applied": "{action}: done.",
        "command.refused": "{action}: refused ({reason}).",
        "refused": "Not sent: {problems}",
        "action.reply": "Reply",
        "action.note": "Note",
        "action.set_status": "Status",
        "action.set_priority": "Priority",
        "action.set_category": "Category",
        "action.transfer": "Transfer",
        "action.escalate": "Escalation",
        "action.merge": "Merge",
        "customer.title": "Your request #{ticket_id}",
        "customer.status": "Status",
        "customer.expected": "We expect to answer by {at}.",
        "customer.none": "No messages yet.",
        "tier.standard": "Standard",
        "tier.vip": "VIP",
        "tier.svip": "SVIP",
        "customer.status.new": "Received",
        "customer.status.open": "In progress",
        "customer.status.pending": "Waiting for your reply",
        "customer.status.on_hold": "In progress (waiting on a third party)",
        "customer.status.solved": "Solved",
        "customer.status.closed": "Closed",
        "customer.brand": "Customer service",
        "customer.reply_by_mail": "To add something, reply to our message.",
        "404.title": "Not found",
        "404.detail": "This link or ticket does not exist. Check that you copied the whole link.",
    },
    "zh-CN": {
        "desk": "kefu 客服工作台",
        "sign_in": "登录",
        "login": "邮箱或账号",
        "password": "密码",
        "wrong_login": "账号不存在或密码错误。",
        "locked": "登录失败次数过多，请在 {minutes} 分钟后重试。",
        "403.title": "表单被拒绝",
        "403.detail": "此表单已过期或来自其他网站。请返回、刷新页面后重试。",
        "sign_out": "退出登录",
        "signed_in_as": "当前用户：{name}",
        "presence": "在线状态",
        "presence.online": "在线",
        "presence.away": "离开",
        "presence.offline": "离线",
        "search": "搜索工单",
        "search.go": "搜索",
        "search.results": "包含“{q}”的工单",
        "search.none": "没有工单包含这些词。",
        "search.more": "更早的结果",
        "mine": "我的工单",
        "mine.none": "目前没有分配给您的未结工单。",
        "queue": "排队工单",
        "queue.none": "没有等待分配的工单。",
        "col.status": "状态",
        "col.due": "时限",
        "no_subject": "（无主题）",
        "no_due": "无进行中的时限",
        "due.in": "剩余 {t}",
        "due.over": "已超时 {t}",
        "span.d": "{d}天{h}小时",
        "span.h": "{h}小时{m}分",
        "span.m": "{m}分{s}秒",
        "status.new": "新建",
        "status.open": "处理中",
        "status.pending": "待客户回复",
        "status.on_hold": "挂起",
        "status.solved": "已解决",
        "status.closed": "已关闭",
        "ticket": "工单 #{ticket_id}",
        "facts.requester": "客户",
        "facts.assignee": "处理人",
        "facts.tier": "支持级别",
        "facts.channel": "渠道",
        "facts.category": "分类",
        "facts.nobody": "无",
        "conversation": "沟通记录",
        "conversation.none": "暂无记录。",
        "author.customer": "客户",
        "author.system": "系统",
        "author.you": "您",
        "author.support": "客服",
        "note": "内部备注",
        "on_behalf": "代 {agent} 回复",
        "attachments": "附件",
        "history": "该客户的其他工单",
        "history.none": "无。",
        "reply": "回复客户",
        "reply.send": "发送回复",
        "note.add": "添加备注",
        "note.label": "内部备注（客户不可见）",
        "status.set": "设置状态",
        "priority": "优先级",
        "priority.set": "设置优先级",
        "transfer": "转交",
        "transfer.agent": "转给客服（账号）",
        "transfer.skill": "或转给技能组",
        "transfer.send": "转交",
        "reason": "原因",
        "escalate": "升级",
        "escalate.send": "升级到下一级",
        "macro": "快捷回复",
        "macro.apply": "使用快捷回复",
        "macro.none": "还没有快捷回复。",
        "macro.unknown": "没有这个快捷回复。",
        "sent": "您发出的操作",
        "command.pending": "{action}：发送中…",
        "command.applied": "{action}：已完成。",
        "command.refused": "{action}：被拒绝（{reason}）。",
        "refused": "未发送：{problems}",
        "action.reply": "回复",
        "action.note": "备注",
        "action.set_status": "状态",
        "action.set_priority": "优先级",
        "action.set_category": "分类",
        "action.transfer": "转交",
        "action.escalate": "升级",
        "action.merge": "合并",
        "customer.title": "您的工单 #{ticket_id}",
        "customer.status": "状态",
        "customer.expected": "我们预计在 {at} 前答复您。",
        "customer.none": "暂无消息。",
        "tier.standard": "普通",
        "tier.vip": "VIP",
        "tier.svip": "SVIP",
        "customer.status.new": "已受理",
        "customer.status.open": "处理中",
        "customer.status.pending": "等待您的回复",
        "customer.status.on_hold": "处理中（等待第三方）",
        "customer.status.solved": "已解决",
        "customer.status.closed": "已关闭",
        "customer.brand": "客户服务",
        "customer.reply_by_mail": "如需补充，请直接回复我们的消息。",
        "404.title": "页面不存在",
        "404.detail": "此链接或工单不存在，请检查链接是否完整。",
    },
}


def page_locale(locale: str | None) -> str:
    """Simplified Chinese for any Chinese locale, English otherwise."""
    return "zh-CN" if (locale or "").strip().lower().startswith("zh") else "en"


def accepted_locale(accept_language: str | None) -> str:
    """The page language a browser prefers most among ours (RFC 9110 q-values), else English."""
    ranked = []
    for order, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        weight = params.strip().removeprefix("q=") if params.strip().startswith("q=") else "1"
        try:
            q = float(weight)
        except ValueError:
            continue
        if tag and q > 0:
            ranked.append((-q, order, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        if tag.startswith(("zh", "en")):
            return page_locale(tag)
    return "en"


def text(lang: str, key: str, **values: object) -> str:
    return TEXTS[lang][key].format(**values)


def span(seconds: float, lang: str) -> str:
    """A duration as the desk writes it: days and hours, hours and minutes, or minutes and
    seconds (the countdown ticks under an hour)."""
    whole = int(abs(seconds))
    d, h, m, s = whole // 86400, whole % 86400 // 3600, whole % 3600 // 60, whole % 60
    if d:
        return text(lang, "span.d", d=d, h=h)
    if h:
        return text(lang, "span.h", h=h, m=f"{m:02}")
    return text(lang, "span.m", m=m, s=f"{s:02}")


def remaining(due_at: datetime, now: datetime, lang: str) -> str:
    """`due in …` or `overdue by …`, as the page says it before its script counts down."""
    left = (due_at - now).total_seconds()
    return text(lang, "due.in" if left >= 0 else "due.over", t=span(left, lang))


def local_time(at: datetime, zone: ZoneInfo) -> str:
    """A time in the zone times are shown in, with its offset: `2026-12-02 18:30 UTC+08:00`."""
    here = at.astimezone(zone)
    offset = here.strftime("%z")
    return f"{here:%Y-%m-%d %H:%M} UTC{offset[:3]}:{offset[3:]}"
