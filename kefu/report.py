"""`kefu report --week 2026-W47 | --month 2026-11`: the service report, as Markdown and CSV
files, from the analytics projections in KEFU_MONGODB_URL (the same as
`GET /v1/reports/weekly`)."""

import asyncio
from pathlib import Path

from kefu.services.analytics.http import ticket_link
from kefu.services.analytics.reporting import period_report
from kefu.services.analytics.reports import Period, Report, month, week
from kefu.services.analytics.store import AnalyticsStore
from kefu.shared.service import Service
from kefu.shared.settings import Settings


def period_of(week_label: str | None, month_label: str | None) -> Period:
    return week(week_label) if week_label else month(month_label or "")


def write_report(settings: Settings, period: Period, out_dir: Path) -> list[Path]:
    made = asyncio.run(_made(settings, period))
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"kefu-report-{period.label}.{ext}" for ext in ("md", "csv")]
    for path, text in zip(paths, (made.markdown, made.csv), strict=True):
        path.write_text(text, encoding="utf-8")
    return paths


async def _made(settings: Settings, period: Period) -> Report:
    service = Service.create("analytics", settings)
    try:
        return await period_report(AnalyticsStore(service), period, ticket_link(settings))
    finally:
        await service.mongo.close()
