"""The programme lead's page (/insight) as HTML, in English and Dutch, and the words the
JSON API (/v1/insight) names its keys with. No JavaScript: the weekly bars are inline SVG
(services/ingest/chart.py), the numbers behind them a table. Every value that reaches the
HTML is escaped (department names are free text). Pure."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Final
from urllib.parse import quote

from schemas import InsightSnapshot
from schemas.insight import WeekCounts
from services.ingest.chart import Column, Series, sparkline, stacked_bars, swatch
from services.ingest.forms.i18n import DEFAULT
from services.ingest.forms.page import language_switch, layout
from services.ingest.insight import Credited, credited

INSIGHT_PATH: Final = "/insight"
KINDS: Final = ("complaint", "opportunity", "other")
COLOURS: Final = {"complaint": "#b3261e", "opportunity": "#1e6b34", "other": "#7b8794"}

NAMES: Final[dict[str, dict[str, str]]] = {
    "en": {
        "complaint": "complaints",
        "opportunity": "opportunities",
        "other": "other",
        "form": "report page and forms",
        "chat": "chat",
        "email": "e-mail",
        "api": "API",
        "payments_cards": "payments and cards",
        "mortgage_loans": "mortgages and loans",
        "insurance_claims": "insurance claims",
        "energy": "energy",
        "internet_telecom": "internet and telecom",
        "invoice_billing": "invoices and billing",
        "delivery": "delivery",
        "app_website": "app and website",
        "service_waiting": "service and waiting",
        "resolved": "resolved",
        "closed": "closed",
        "won": "won",
        "lost": "lost",
        "opened": "opened",
        "in_progress": "in progress",
    },
    "nl": {
        "complaint": "klachten",
        "opportunity": "kansen",
        "other": "overig",
        "form": "meldpagina en formulieren",
        "chat": "chat",
        "email": "e-mail",
        "api": "API",
        "payments_cards": "betalen en passen",
        "mortgage_loans": "hypotheken en leningen",
        "insurance_claims": "verzekeringsclaims",
        "energy": "energie",
        "internet_telecom": "internet en telefonie",
        "invoice_billing": "facturen",
        "delivery": "bezorging",
        "app_website": "app en website",
        "service_waiting": "service en wachttijd",
        "resolved": "opgelost",
        "closed": "gesloten",
        "won": "gewonnen",
        "lost": "verloren",
        "opened": "geopend",
        "in_progress": "in behandeling",
    },
}

LABELS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "title": "Programme insight",
        "period": "The last {weeks} weeks, up to {generated} UTC.",
        "signals": "Signals reported",
        "employees": "Employees who reported",
        "resolved": "Tickets resolved",
        "won": "Leads won",
        "to_record": "Median time to a ticket or lead",
        "to_resolution": "Median time to a resolution",
        "none": "–",
        "weekly": "Signals per week",
        "chart_title": "Signals per week by kind",
        "chart_desc": "{total} signals in {weeks} weeks; the latest week {latest}.",
        "numbers": "The numbers per week",
        "week": "Week",
        "total": "Total",
        "by_channel": "By channel",
        "by_category": "By category",
        "by_department": "By department",
        "participation": "Participation",
        "participation_body": "{employees} employees reported; per department:",
        "department": "Department",
        "people": "Employees",
        "reports": "Signals",
        "not_given": "(not given)",
        "other_departments": "Other departments",
        "trend": "per week",
        "mattered": "Reports that mattered",
        "mattered_none": "No resolved complaint or won lead yet in this period.",
        "mattered_item": "{status} {kind} · {category}",
        "mattered_when": "Reported {reported}, {status} after {after}.",
        "mattered_department": "Department: {department}.",
        "mattered_by": "Reported by {names}.",
        "mattered_and": "{names} and {count} more",
        "mattered_colleagues": "Reported by {count} employees.",
        "mattered_one": "Reported by one employee.",
        "kind_complaint": "complaint",
        "kind_opportunity": "lead",
        "kind_other": "signal",
        "cases_note": (
            "Of the {cases} cases reported in this period, {recorded} became a ticket or lead."
        ),
        "minutes": "{n} min",
        "hours": "{n} h",
        "days": "{n} days",
        "empty_title": "No figures yet",
        "empty_body": (
            "The insight service has not published its figures yet. If it was just "
            "started, look again in a minute."
        ),
        "forbidden_title": "For the programme team only",
        "forbidden_body": (
            "This page is for the people who run the employee programme "
            "(ANTENNA_OPERATORS). Ask your administrator if you need it."
        ),
    },
    "nl": {
        "title": "Inzicht in het programma",
        "period": "De laatste {weeks} weken, tot {generated} UTC.",
        "signals": "Gemelde signalen",
        "employees": "Medewerkers die meldden",
        "resolved": "Opgeloste tickets",
        "won": "Gewonnen leads",
        "to_record": "Mediane tijd tot ticket of lead",
        "to_resolution": "Mediane tijd tot afhandeling",
        "none": "–",
        "weekly": "Signalen per week",
        "chart_title": "Signalen per week naar soort",
        "chart_desc": "{total} signalen in {weeks} weken; de laatste week {latest}.",
        "numbers": "De aantallen per week",
        "week": "Week",
        "total": "Totaal",
        "by_channel": "Per kanaal",
        "by_category": "Per categorie",
        "by_department": "Per afdeling",
        "participation": "Deelname",
        "participation_body": "{employees} medewerkers meldden iets; per afdeling:",
        "department": "Afdeling",
        "people": "Medewerkers",
        "reports": "Signalen",
        "not_given": "(niet opgegeven)",
        "other_departments": "Overige afdelingen",
        "trend": "per week",
        "mattered": "Meldingen die ertoe deden",
        "mattered_none": "Nog geen opgeloste klacht of gewonnen lead in deze periode.",
        "mattered_item": "{kind} {status} · {category}",
        "mattered_when": "Gemeld {reported}, {status} na {after}.",
        "mattered_department": "Afdeling: {department}.",
        "mattered_by": "Gemeld door {names}.",
        "mattered_and": "{names} en {count} anderen",
        "mattered_colleagues": "Gemeld door {count} medewerkers.",
        "mattered_one": "Gemeld door één medewerker.",
        "kind_complaint": "klacht",
        "kind_opportunity": "lead",
        "kind_other": "signaal",
        "cases_note": (
            "Van de {cases} zaken die in deze periode zijn gemeld, werden er {recorded} een "
            "ticket of lead."
        ),
        "minutes": "{n} min",
        "hours": "{n} uur",
        "days": "{n} dagen",
        "empty_title": "Nog geen cijfers",
        "empty_body": (
            "De inzichtdienst heeft zijn cijfers nog niet gepubliceerd. Is hij net "
            "gestart, kijk dan over een minuutje opnieuw."
        ),
        "forbidden_title": "Alleen voor het programmateam",
        "forbidden_body": (
            "Deze pagina is voor wie het medewerkersprogramma leidt (ANTENNA_OPERATORS). "
            "Vraag je beheerder als je hem nodig hebt."
        ),
    },
}


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _t(language: str) -> dict[str, str]:
    return LABELS.get(language, LABELS[DEFAULT])


def name_of(key: str, language: str) -> str:
    """A kind, channel, category or status in words."""
    return NAMES.get(language, NAMES[DEFAULT]).get(key, key)


def names(language: str) -> dict[str, str]:
    return dict(NAMES.get(language, NAMES[DEFAULT]))


def insight_href(language: str) -> str:
    return f"{INSIGHT_PATH}?lang={quote(language)}"


def duration(seconds: float | None, language: str) -> str:
    t = _t(language)
    if seconds is None:
        return t["none"]
    if seconds < 3600:
        return t["minutes"].format(n=max(1, round(seconds / 60)))
    if seconds < 48 * 3600:
        return t["hours"].format(n=_number(seconds / 3600, language))
    return t["days"].format(n=_number(seconds / 86400, language))


def _number(value: float, language: str) -> str:
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return text.replace(".", ",") if language == "nl" else text


def _department(name: str, language: str) -> str:
    return name or _t(language)["not_given"]


def _figures(snapshot: InsightSnapshot, language: str) -> str:
    t = _t(language)
    outcomes = snapshot.outcomes
    figures = (
        ("signals", sum(week.signals for week in snapshot.weeks)),
        ("employees", snapshot.participation.employees),
        ("resolved", outcomes.tickets_resolved),
        ("won", outcomes.leads_won),
        ("to_record", duration(outcomes.median_to_record_s, language)),
        ("to_resolution", duration(outcomes.median_to_resolution_s, language)),
    )
    items = "".join(
        f"<div><dt>{_e(t[key])}</dt><dd>{_e(value)}</dd></div>" for key, value in figures
    )
    note = t["cases_note"].format(cases=outcomes.cases, recorded=outcomes.recorded)
    return f'<dl class="figures">{items}</dl>\n<p class="help">{_e(note)}</p>'


def _week_label(week: WeekCounts) -> str:
    return "W" + week.week.rsplit("-W", 1)[1]


def _chart(snapshot: InsightSnapshot, language: str) -> str:
    t = _t(language)
    series = [Series(kind, name_of(kind, language), COLOURS[kind]) for kind in KINDS]
    columns = [
        Column(_week_label(w), f"{w.week} ({w.starts_on.isoformat()})", w.by_kind)
        for w in snapshot.weeks
    ]
    latest = snapshot.weeks[-1].signals if snapshot.weeks else 0
    description = t["chart_desc"].format(
        total=sum(w.signals for w in snapshot.weeks), weeks=len(snapshot.weeks), latest=latest
    )
    chart = stacked_bars(columns, series, title=t["chart_title"], description=description)
    legend = "".join(f"<li>{swatch(item.colour)}{_e(item.label)}</li>" for item in series)
    head = "".join(f'<th class="n">{_e(name_of(kind, language))}</th>' for kind in KINDS)
    rows = "".join(
        f'<tr><td>{_e(w.week)}</td><td class="n">{w.signals}</td>'
        + "".join(f'<td class="n">{w.by_kind.get(kind, 0)}</td>' for kind in KINDS)
        + "</tr>"
        for w in reversed(snapshot.weeks)
    )
    table = (
        f"<details><summary>{_e(t['numbers'])}</summary><table><thead><tr>"
        f'<th>{_e(t["week"])}</th><th class="n">{_e(t["total"])}</th>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table></details>"
    )
    return f'<h2>{_e(t["weekly"])}</h2>\n{chart}\n<ul class="legend">{legend}</ul>\n{table}'


def _breakdown(title: str, rows: list[tuple[str, list[int]]], language: str) -> str:
    """A table: what, its weeks as a sparkline, its total; most first."""
    t = _t(language)
    lines = []
    for label, values in sorted(rows, key=lambda row: (-sum(row[1]), row[0])):
        if not sum(values):
            continue
        trend = sparkline(values, label=f"{label}: {t['trend']}")
        lines.append(
            f'<tr><td>{_e(label)}</td><td class="spark">{trend}</td>'
            f'<td class="n">{sum(values)}</td></tr>'
        )
    if not lines:
        return ""
    return (
        f'<h2>{_e(title)}</h2>\n<table class="breakdown"><thead><tr><th></th>'
        f"<th>{_e(t['trend'])}</th>"
        f'<th class="n">{_e(t["total"])}</th></tr></thead><tbody>{"".join(lines)}</tbody>'
        "</table>"
    )


def _dimension(weeks: list[WeekCounts], field: str) -> dict[str, list[int]]:
    keys = sorted({key for w in weeks for key in getattr(w, field)})
    return {key: [getattr(w, field).get(key, 0) for w in weeks] for key in keys}


def _breakdowns(snapshot: InsightSnapshot, language: str) -> str:
    t, weeks = _t(language), snapshot.weeks
    channels = [(name_of(k, language), v) for k, v in _dimension(weeks, "by_channel").items()]
    categories = [(name_of(k, language), v) for k, v in _dimension(weeks, "by_category").items()]
    departments = [
        (_department(k, language), v) for k, v in _dimension(weeks, "by_department").items()
    ]
    others = [w.other_departments for w in weeks]
    if sum(others):
        departments.append((t["other_departments"], others))
    return "\n".join(
        (
            _breakdown(t["by_channel"], channels, language),
            _breakdown(t["by_category"], categories, language),
            _breakdown(t["by_department"], departments, language),
        )
    )


def _participation(snapshot: InsightSnapshot, language: str) -> str:
    t, part = _t(language), snapshot.participation
    rows = [
        (_department(d.department, language), d.employees, d.signals) for d in part.by_department
    ]
    if part.other_departments is not None:
        rows.append(
            (
                t["other_departments"],
                part.other_departments.employees,
                part.other_departments.signals,
            )
        )
    body = "".join(
        f'<tr><td>{_e(name)}</td><td class="n">{people}</td><td class="n">{signals}</td></tr>'
        for name, people, signals in rows
    )
    return (
        f"<h2>{_e(t['participation'])}</h2>\n"
        f"<p>{_e(t['participation_body'].format(employees=part.employees))}</p>\n"
        f'<table><thead><tr><th>{_e(t["department"])}</th><th class="n">{_e(t["people"])}</th>'
        f'<th class="n">{_e(t["reports"])}</th></tr></thead><tbody>{body}</tbody></table>'
    )


def _mattered_item(entry: Credited, language: str) -> str:
    t, report = _t(language), entry.report
    status = name_of(report.status.value, language)
    headline = t["mattered_item"].format(
        status=status.capitalize() if language == "en" else status,
        kind=t[f"kind_{report.kind.value}"].capitalize()
        if language == "nl"
        else t[f"kind_{report.kind.value}"],
        category=name_of(report.category.value, language),
    )
    lines = [
        t["mattered_when"].format(
            reported=report.reported_on.isoformat(),
            status=status,
            after=duration(report.settled_after_s, language),
        ),
        t["mattered_department"].format(department=_department(report.department, language)),
    ]
    if entry.names:
        listed = ", ".join(entry.names)
        if entry.others:
            listed = t["mattered_and"].format(names=listed, count=entry.others)
        lines.append(t["mattered_by"].format(names=listed))
    elif report.reporters > 1:
        lines.append(t["mattered_colleagues"].format(count=report.reporters))
    else:
        lines.append(t["mattered_one"])
    text = " ".join(_e(line) for line in lines)
    return f"<li><strong>{_e(headline)}</strong><br>{text}</li>"


def _mattered(snapshot: InsightSnapshot, credits: Mapping[str, str], language: str) -> str:
    t = _t(language)
    entries = credited(snapshot, credits)
    if not entries:
        return f"<h2>{_e(t['mattered'])}</h2>\n<p>{_e(t['mattered_none'])}</p>"
    items = "".join(_mattered_item(entry, language) for entry in entries)
    return f'<h2>{_e(t["mattered"])}</h2>\n<ol class="mattered">{items}</ol>'


def render_insight(*, language: str, snapshot: InsightSnapshot, credits: Mapping[str, str]) -> str:
    t = _t(language)
    generated = snapshot.generated_at.strftime("%Y-%m-%d %H:%M")
    period = t["period"].format(weeks=snapshot.horizon_weeks, generated=generated)
    content = "\n".join(
        (
            f"<h1>{_e(t['title'])}</h1>",
            f'<p class="intro">{_e(period)}</p>',
            _figures(snapshot, language),
            _chart(snapshot, language),
            _breakdowns(snapshot, language),
            _participation(snapshot, language),
            _mattered(snapshot, credits, language),
        )
    )
    return layout(language, t["title"], content, language_switch(language, insight_href), wide=True)


def render_message(*, language: str, name: str) -> str:
    """A short page: ``empty`` (no summary yet) or ``forbidden`` (not an operator)."""
    t = _t(language)
    content = f"<h1>{_e(t[name + '_title'])}</h1>\n<p>{_e(t[name + '_body'])}</p>"
    return layout(language, t[name + "_title"], content, language_switch(language, insight_href))
