"""The policy file (KEFU_CONFIG, YAML): classification, routing, SLA, survey and notify rules."""

import re
from datetime import date, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from kefu.shared.destinations import private_destination
from kefu.shared.durations import WorkingDays, parse_duration, parse_target
from kefu.shared.events.base import Channel, CustomerTier, Priority, SupportTier, TicketStatus
from kefu.shared.identifiers import Identifier


class PolicyError(ValueError):
    """The policy file cannot be used; the message names the file and the key."""


def _duration(value: Any) -> Any:
    return parse_duration(value) if isinstance(value, str) else value


def _target(value: Any) -> Any:
    return parse_target(value) if isinstance(value, str) else value


Duration = Annotated[timedelta, BeforeValidator(_duration)]
TargetTime = Annotated[timedelta | WorkingDays, BeforeValidator(_target)]
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_SPAN = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {name!r}") from None
    return name


class ClassificationSet(_Strict):
    priority: Priority | None = None
    category: list[str] | None = Field(None, min_length=3, max_length=3)
    skills: list[Identifier] | None = None
    tier: SupportTier | None = None


class ClassificationDefault(_Strict):
    priority: Priority = "P3"
    category: list[str] = Field(["general", "inquiry", "other"], min_length=3, max_length=3)
    skills: list[Identifier] = ["general"]
    tier: SupportTier = 1


class ClassificationRule(_Strict):
    keywords: list[str] = Field(default_factory=list, description="empty matches everything")
    channels: list[Channel] | None = None
    set: ClassificationSet


class Classification(_Strict):
    default: ClassificationDefault = ClassificationDefault()
    rules: list[ClassificationRule] = Field(default_factory=list)
    raise_priority: dict[CustomerTier, Annotated[int, Field(ge=0, le=3)]] = Field(
        default_factory=lambda: {"vip": 1, "svip": 2},
        description="customer tier → priority levels added (P3 → P2 is one), never above P1",
    )


TokenSenders = Literal["requester", "known", "anyone"]


class Threading(_Strict):
    window: Duration = Field(
        timedelta(hours=24), description="sms, voice, social: same sender joins within this"
    )
    token_senders: TokenSenders = Field(
        "known",
        description="whose email joins a ticket by its [#id] subject token: the requester, "
        "the requester and the addresses known on the ticket (CCs, senders on the thread), "
        "or anyone; others open a new ticket related to it",
    )


class Routing(_Strict):
    strategy: Literal["least_loaded", "round_robin"] = "least_loaded"
    sticky_owner: bool = True
    relax_after: Duration | None = Field(
        None, description="first the ticket's own tier; after this wait, any higher tier too"
    )
    transfer_wait: Duration = Field(
        timedelta(minutes=10),
        description="how long a ticket transferred to a named agent waits for her",
    )
    daily_limit: int | None = Field(None, ge=1, description="new tickets per agent per day")
    surge_capacity_factor: float = Field(
        1.0, ge=1.0, description="capacity stretch during a surge (1.0 = none)"
    )
    timezone: str = Field("UTC", description="where the day of daily_limit begins")

    _check_tz = field_validator("timezone")(_check_timezone)

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class HolidayPreset(_Strict):
    """A country's public holidays and make-up working days, from the `holidays` package."""

    country: str = Field(description="ISO 3166 code, e.g. CN")
    subdiv: str | None = Field(None, description="a subdivision, e.g. BE for Berlin")
    years: list[int] = Field(min_length=1, description="the years to take")

    @field_validator("years", mode="before")
    @classmethod
    def _one_year_is_a_list(cls, years: Any) -> Any:
        return [years] if isinstance(years, int) else years

    @model_validator(mode="after")
    def _known_country(self) -> "HolidayPreset":
        public_holidays(self)
        return self


class Calendar(_Strict):
    timezone: str
    hours: dict[str, str] = Field(description='day or day range → "09:00-12:00,13:30-18:00"')
    holidays: list[date | HolidayPreset] = Field(
        default_factory=list,
        description="ISO dates, and presets such as {country: CN, years: 2026}",
    )
    workdays: list[date] = Field(
        default_factory=list,
        description="make-up working days (调休): worked with the hours of the first weekday "
        "that has any",
    )

    _check_tz = field_validator("timezone")(_check_timezone)

    @field_validator("holidays", mode="before")
    @classmethod
    def _one_preset_is_a_list(cls, holidays: Any) -> Any:
        return [holidays] if isinstance(holidays, dict) else holidays

    @field_validator("hours")
    @classmethod
    def _hours_well_formed(cls, hours: dict[str, str]) -> dict[str, str]:
        for days, spans in hours.items():
            weekday_range(days)
            for span in spans.split(","):
                opening_span(span)
        if not hours:
            raise ValueError("a calendar needs opening hours on at least one day")
        return hours

    @model_validator(mode="after")
    def _no_day_both_ways(self) -> "Calendar":
        both = {day for day in self.holidays if isinstance(day, date)} & set(self.workdays)
        if both:
            raise ValueError(f"{sorted(both)[0]} is both a holiday and a workday")
        return self


def public_holidays(preset: HolidayPreset) -> tuple[set[date], set[date]]:
    """A preset's holidays and make-up working days, within its years."""
    try:
        found = holidays.country_holidays(preset.country, subdiv=preset.subdiv, years=preset.years)
    except NotImplementedError as error:
        raise ValueError(str(error)) from None
    workdays = {day for day in getattr(found, "weekend_workdays", ()) if day.year in preset.years}
    return set(found), workdays


def weekday_range(days: str) -> list[int]:
    """`mon-fri` → [0..4]; `sat` → [5]."""
    first, _, last = days.strip().lower().partition("-")
    if first not in WEEKDAYS or (last and last not in WEEKDAYS):
        raise ValueError(f"{days!r} is not a day or day range like mon-fri")
    start, end = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
    return list(range(start, end + 1)) if start <= end else [*range(start, 7), *range(end + 1)]


def opening_span(span: str) -> tuple[time, time]:
    """`09:00-18:00` → (09:00, 18:00); `24:00` is not allowed, use 23:59."""
    match = _SPAN.match(span.strip())
    if not match:
        raise ValueError(f"{span!r} is not a span like 09:00-18:00")
    h1, m1, h2, m2 = map(int, match.groups())
    try:
        opens, closes = time(h1, m1), time(h2, m2)
    except ValueError:
        raise ValueError(f"{span!r} has an impossible time") from None
    if opens >= closes:
        raise ValueError(f"{span!r} closes before it opens")
    return opens, closes


class PolicyMatch(_Strict):
    priority: list[Priority] | None = None
    tier: list[SupportTier] | None = None
    channel: list[Channel] | None = None
    customer_tier: list[CustomerTier] | None = None
    category: list[str] | None = Field(None, description="any of the ticket's three levels")


class SlaTargets(_Strict):
    first_response: TargetTime | None = None
    next_reply: TargetTime | None = None
    resolution: TargetTime | None = None


class EscalationStep(_Strict):
    at: str = Field(description="`breach` or `breach+<duration>`")
    notify: list[str] = Field(default_factory=list, description="roles or agent ids")
    raise_tier: bool = False

    @field_validator("at")
    @classmethod
    def _at_well_formed(cls, at: str) -> str:
        escalation_offset(at)
        return at

    @property
    def offset(self) -> timedelta:
        return escalation_offset(self.at)


def escalation_offset(at: str) -> timedelta:
    base, plus, rest = at.replace(" ", "").partition("+")
    if base != "breach" or (plus and not rest):
        raise ValueError(f"{at!r} must be `breach` or `breach+<duration>`")
    return parse_duration(rest) if rest else timedelta(0)


class SlaPolicy(_Strict):
    name: str
    when: PolicyMatch = PolicyMatch()
    calendar: str = "24x7"
    targets: SlaTargets
    warn_at: float | None = Field(0.8, gt=0, lt=1, description="null: no warning")
    pause_on: list[TicketStatus] = Field(default_factory=lambda: ["pending"])
    escalation: list[EscalationStep] = Field(default_factory=list)


class Sla(_Strict):
    calendars: dict[str, Calendar] = Field(default_factory=dict)
    policies: list[SlaPolicy] = Field(default_factory=list)

    @field_validator("policies")
    @classmethod
    def _names_unique(cls, policies: list[SlaPolicy]) -> list[SlaPolicy]:
        names = [policy.name for policy in policies]
        if len(names) != len(set(names)):
            raise ValueError("policy names must be unique")
        return policies

    @model_validator(mode="after")
    def _calendars_defined(self) -> "Sla":
        for policy in self.policies:
            if policy.calendar != "24x7" and policy.calendar not in self.calendars:
                raise ValueError(
                    f"policy {policy.name!r} names calendar {policy.calendar!r}, "
                    f"which sla.calendars does not define"
                )
        return self


class Survey(_Strict):
    kind: Literal["csat", "nps"] = "csat"
    delay: Duration = Field(timedelta(0), description="after solving, before the survey goes")
    expires: Duration = Field(timedelta(days=7), gt=timedelta(0))
    per_solve: bool = Field(False, description="a re-solve after a reopen gets a survey too")
    remind_after: Duration | None = Field(
        None, description="one reminder this long after the survey, if still unanswered"
    )


class QuietHours(_Strict):
    timezone: str
    start: time = Field(alias="from")
    end: time = Field(alias="to")
    except_priority: list[Priority] = Field(default_factory=list)
    mode: Literal["defer", "suppress"] = Field(
        "defer", description="defer: sent when the window ends; suppress: not sent"
    )

    _check_tz = field_validator("timezone")(_check_timezone)

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


CustomerStep = Literal["opened", "agent_reply", "solved", "assigned", "status_pending", "closed"]


class Webhook(_Strict):
    url: str = Field(pattern=r"^https?://")
    events: list[str] = Field(min_length=1, description='event types; "kefu.ticket.*" patterns')
    secret: str = Field(min_length=16, description="signs each delivery (Kefu-Signature)")
    allow_private: bool = Field(
        False, description="`url` may be a loopback, link-local or private address (contract 11)"
    )

    @model_validator(mode="after")
    def _public_unless_allowed(self) -> "Webhook":
        if not self.allow_private and (refused := private_destination(self.url)):
            raise ValueError(f"{refused}; `allow_private: true` allows it")
        return self


class SmsGateway(_Strict):
    """What the policy says of the SMS gateway, KEFU_SMS_URL."""

    allow_private: bool = Field(
        False, description="KEFU_SMS_URL may be a loopback, link-local or private address"
    )


class Notify(_Strict):
    staff: dict[str, list[str]] = Field(default_factory=dict, description="role → addresses")
    customer: list[CustomerStep] = Field(
        default_factory=lambda: ["opened", "agent_reply", "solved"],
        description="the steps the customer is told about",
    )
    quiet_hours: QuietHours | None = None
    webhooks: list[Webhook] = Field(default_factory=list)
    sms_gateway: SmsGateway = SmsGateway()
    max_attempts: int = Field(6, ge=1, le=20, description="sends tried before giving up")
    retry_base: Duration = Field(
        timedelta(seconds=2), description="the first retry's wait; it doubles, with jitter"
    )
    retry_max: Duration = Field(timedelta(minutes=10), description="the longest wait")
    timezone: str = Field("UTC", description="the zone of times shown to customers")

    _check_tz = field_validator("timezone")(_check_timezone)

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class SurgeRule(_Strict):
    factor: float = Field(3.0, gt=1, description="inflow above factor × the usual is a surge")
    min_per_min: float = Field(
        5.0, ge=0, description="no surge below this many new tickets a minute, however quiet"
    )


class Staffing(_Strict):
    min_online: int = Field(0, ge=0, description="fewer agents online in `hours` is an alert")
    hours: dict[str, str] = Field(
        default_factory=dict, description='day or day range → "09:00-11:00,14:00-17:00"'
    )
    timezone: str = Field("UTC", description="the zone `hours` are in")

    _check_tz = field_validator("timezone")(_check_timezone)

    def calendar(self) -> Calendar | None:
        """The staffed hours as a calendar, or None when no hours are set."""
        return Calendar(timezone=self.timezone, hours=self.hours) if self.hours else None


class Analytics(_Strict):
    surge: SurgeRule = SurgeRule()
    staffing: Staffing = Staffing()


class Policy(_Strict):
    classification: Classification = Classification()
    threading: Threading = Threading()
    routing: Routing = Routing()
    sla: Sla = Sla()
    survey: Survey = Survey()
    notify: Notify = Notify()
    analytics: Analytics = Analytics()


def load_policy(path: Path | None) -> Policy:
    """The policy at `path` (or the built-in defaults); a bad file raises PolicyError."""
    if path is None:
        return Policy()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise PolicyError(f"{path}: cannot read the policy file: {error}") from None
    try:
        return Policy.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in error.errors()
        )
        raise PolicyError(f"{path}: {problems}") from None
