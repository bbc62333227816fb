"""The report page as HTML: standard library only (string.Template and html.escape).

Built for a phone: a viewport meta, one column, inputs of at least 48 CSS pixels, inline
CSS only and no JavaScript at all. Every value that reaches the HTML is escaped here.
The Content-Security-Policy allows exactly the one inline style sheet (by its hash), no
script, no images, and form posts to this origin only. Pure."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping
from html import escape
from string import Template
from typing import Final
from urllib.parse import quote

from services.ingest.forms.i18n import SUPPORTED, labels

REPORT_PATH: Final = "/report"
HINT_CHOICES: Final = ("complaint", "opportunity", "not_sure")
# The error codes of services.ingest.forms.FieldError, as label keys.
ERROR_LABELS: Final = {
    "required": "error_required",
    "email": "error_email",
    "too_long": "error_too_long",
    "choice": "error_choice",
}

STYLE: Final = """
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;background:#f2f4f7;color:#17202a;overflow-wrap:anywhere;
font:17px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
.bar{display:flex;align-items:center;justify-content:space-between;gap:1rem;
padding:.5rem 1rem;background:#0b3d6b;color:#fff}
.brand{font-weight:700;letter-spacing:.02em}
.bar a{color:#fff;display:inline-flex;align-items:center;min-height:3rem;padding:0 .25rem}
main{max-width:36rem;margin:0 auto;padding:1rem 1rem 2.5rem}
h1{font-size:1.5rem;line-height:1.25;margin:.5rem 0 .5rem}
p{margin:.5rem 0}
.intro,.help,.who{color:#4a5561}
.help{font-size:.95rem;margin:.25rem 0 .5rem}
.field{margin:1.25rem 0 0}
fieldset{border:0;margin:1.75rem 0 0;padding:0;min-width:0}
legend{font-weight:700;font-size:1.1rem;padding:0;margin-bottom:.25rem}
label{display:block;font-weight:600;margin:0 0 .35rem}
.opt{font-weight:400;color:#4a5561}
input[type=text],input[type=email],input[type=tel],textarea{display:block;width:100%;
min-height:3rem;margin:0;padding:.7rem .8rem;font:inherit;color:inherit;background:#fff;
border:1px solid #7b8794;border-radius:.5rem}
textarea{min-height:9rem;resize:vertical}
input[readonly]{background:#e6eaef;border-color:#c3cbd4}
input:focus,textarea:focus{outline:3px solid #7fb2e5;outline-offset:1px}
.choice{display:flex;align-items:center;gap:.75rem;min-height:3rem;margin:.5rem 0 0;
padding:.6rem .8rem;font-weight:400;background:#fff;border:1px solid #c3cbd4;
border-radius:.5rem}
.choice input{flex:none;width:1.4rem;height:1.4rem;margin:0;accent-color:#0b5cad}
.invalid input,.invalid textarea,.invalid .choice{border-color:#b3261e;border-width:2px}
.error{color:#b3261e;font-weight:600;margin:.35rem 0 0}
.banner{margin:1rem 0;padding:.8rem 1rem;border-radius:.5rem;border-left:.35rem solid}
.banner.error{background:#fdecea;border-color:#b3261e}
.banner.warn{background:#fff4e5;border-color:#b25e00}
button,.button{display:flex;align-items:center;justify-content:center;width:100%;
min-height:3.25rem;margin:1.75rem 0 .5rem;padding:.6rem 1rem;font:inherit;font-weight:700;
color:#fff;background:#0b5cad;border:0;border-radius:.5rem;text-decoration:none}
.link{display:flex;align-items:center;justify-content:center;min-height:3rem}
.ref{margin:1.25rem 0;padding:1rem;background:#fff;border:1px solid #c3cbd4;
border-radius:.5rem}
.ref code{display:block;font-size:1.15rem;font-weight:700;margin-top:.25rem}
.done{color:#1e6b34}
.banner.saved{background:#e7f4ea;border-color:#1e6b34}
.story{list-style:none;margin:1rem 0;padding:0 0 0 1rem;border-left:3px solid #c3cbd4}
.story li{margin:0 0 .75rem}
.story time{display:block;color:#4a5561;font-size:.9rem}
main.wide{max-width:60rem}
h2{font-size:1.2rem;line-height:1.3;margin:1.75rem 0 .5rem}
.figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(8.5rem,1fr));gap:.75rem;
margin:1rem 0 .5rem}
.figures div{background:#fff;border:1px solid #c3cbd4;border-radius:.5rem;padding:.6rem .75rem}
.figures dt{color:#4a5561;font-size:.9rem}
.figures dd{margin:.15rem 0 0;font-size:1.45rem;font-weight:700}
.chart{display:block;width:100%;max-width:36rem;height:auto;margin:.5rem 0 0;
background:#fff;border-radius:.5rem}
.legend{display:flex;flex-wrap:wrap;gap:.25rem 1.25rem;list-style:none;padding:0;
margin:.5rem 0 1rem}
.swatch{width:.9rem;height:.9rem;margin-right:.4rem;vertical-align:-.1rem}
table{width:100%;border-collapse:collapse;background:#fff;margin:.5rem 0 1rem;
table-layout:fixed}
th,td{padding:.45rem .5rem;border-bottom:1px solid #e1e5ea;text-align:left;
vertical-align:middle}
th{font-size:.9rem;color:#4a5561;font-weight:600}
.n{text-align:right;font-variant-numeric:tabular-nums}
.spark svg{display:block;width:100%;height:1.4rem}
.breakdown th:first-child{width:42%}
.breakdown th:last-child{width:18%}
details summary{padding:.8rem 0;font-weight:600;cursor:pointer}
.mattered{list-style:none;padding:0;margin:.5rem 0}
.mattered li{background:#fff;border:1px solid #c3cbd4;border-radius:.5rem;padding:.75rem;
margin:.5rem 0}
.item{background:#fff;border:1px solid #c3cbd4;border-radius:.5rem;padding:.75rem;
margin:1rem 0}
.item blockquote{margin:.5rem 0;padding:.5rem .75rem;background:#f7f8fa;
border-left:3px solid #7b8794;white-space:pre-wrap}
.meta,.guess{color:#4a5561;font-size:.95rem}
.pair{display:grid;grid-template-columns:repeat(auto-fit,minmax(12rem,1fr));gap:0 .75rem}
select{display:block;width:100%;min-height:3rem;margin:0 0 .5rem;padding:.6rem .8rem;
font:inherit;color:inherit;background:#fff;border:1px solid #7b8794;border-radius:.5rem}
.choices button,.item form button{margin:.5rem 0}
button.secondary{color:#0b3d6b;background:#fff;border:2px solid #0b5cad}
h3{font-size:1.05rem;margin:1.25rem 0 .25rem}
"""

_PAGE = Template(
    """<!doctype html>
<html lang="$lang">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>$title · Antenna</title>
<style>$style</style>
</head>
<body>
<header class="bar"><span class="brand">Antenna</span>$switch</header>
<main$main_class>
$content
</main>
</body>
</html>
"""
)


def content_security_policy() -> str:
    digest = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
    return (
        "default-src 'none'; "
        f"style-src 'sha256-{digest}'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )


def page_headers() -> dict[str, str]:
    """Headers for every HTML answer: no caching (the page holds personal data and a
    token), no framing, no script."""
    return {
        "Content-Security-Policy": content_security_policy(),
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Vary": "Accept-Language, Authorization",
    }


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def report_href(language: str) -> str:
    return f"{REPORT_PATH}?lang={quote(language)}"


def language_switch(language: str, href_for: Callable[[str], str]) -> str:
    """A link to the same page in the other language; ``href_for(language)`` builds it."""
    other = next(code for code in SUPPORTED if code != language)
    text = labels(language)["switch_to"]
    return f'<a href="{_e(href_for(other))}" hreflang="{other}" lang="{other}">{_e(text)}</a>'


def layout(language: str, title: str, content: str, switch: str, *, wide: bool = False) -> str:
    """The page shell every employee-facing page shares (report, confirmation, status,
    preferences, insight); ``wide`` for tables and charts on a desktop."""
    return _PAGE.substitute(
        lang=_e(language),
        title=_e(title),
        style=STYLE,
        switch=switch,
        content=content,
        main_class=' class="wide"' if wide else "",
    )


def _layout(language: str, title: str, content: str) -> str:
    return layout(language, title, content, language_switch(language, report_href))


def _error_text(language: str, code: str | None) -> str:
    if code is None:
        return ""
    return labels(language)[ERROR_LABELS.get(code, "error_invalid")]


def _field_attrs(name: str, error: str) -> str:
    described = f"{name}-error" if error else ""
    attrs = f'id="{name}" name="{name}"'
    if described:
        attrs += f' aria-invalid="true" aria-describedby="{described}"'
    return attrs


def _error_line(name: str, error: str) -> str:
    return f'<p class="error" id="{name}-error">{_e(error)}</p>' if error else ""


def _input(
    name: str,
    label: str,
    value: str,
    error: str,
    *,
    kind: str = "text",
    extra: str = "",
    optional: str = "",
) -> str:
    marker = f' <span class="opt">({_e(optional)})</span>' if optional else ""
    return (
        f'<div class="field{" invalid" if error else ""}">'
        f'<label for="{name}">{_e(label)}{marker}</label>'
        f'<input type="{kind}" {_field_attrs(name, error)} value="{_e(value)}"{extra}>'
        f"{_error_line(name, error)}</div>"
    )


def render_form(
    *,
    language: str,
    user: str,
    csrf_token: str,
    nonce: str,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    notice: str | None = None,
    notice_title: str | None = None,
    notice_kind: str = "error",
) -> str:
    """The report form. ``values`` refill what was entered, ``errors`` map a field name to
    an error code; ``notice`` (and ``notice_title``) are label keys shown in a banner above
    the form, by default a summary of the errors."""
    t = labels(language)
    values = values or {}
    errors = errors or {}

    def value(name: str) -> str:
        return values.get(name, "")

    def error(name: str) -> str:
        return _error_text(language, errors.get(name))

    banner_key = notice or ("errors_banner" if errors else None)
    banner = ""
    if banner_key:
        heading = f"<strong>{_e(t[notice_title])}</strong><br>" if notice_title else ""
        banner = (
            f'<div class="banner {_e(notice_kind)}" role="alert">{heading}{_e(t[banner_key])}</div>'
        )
    hint = value("hint") if value("hint") in HINT_CHOICES else "not_sure"
    hint_labels = {
        "complaint": t["hint_complaint"],
        "opportunity": t["hint_opportunity"],
        "not_sure": t["hint_unsure"],
    }
    hint_error = error("hint")
    choices = "".join(
        f'<label class="choice"><input type="radio" name="hint" value="{choice}"'
        f"{' checked' if choice == hint else ''}> {_e(hint_labels[choice])}</label>"
        for choice in HINT_CHOICES
    )
    consent = value("consent").lower() in ("yes", "on", "true", "1")
    consent_error = error("consent")
    text_error = error("text")
    reporter_error = error("reporter_id")  # the signed-in name itself did not fit
    text_described = "text-help" + (" text-error" if text_error else "")
    no_fill = ' autocomplete="off"'  # the customer's details, not the employee's own

    content = f"""<h1>{_e(t["title"])}</h1>
<p class="intro">{_e(t["intro"])}</p>
{banner}
<form method="post" action="{REPORT_PATH}" accept-charset="utf-8">
<input type="hidden" name="csrf_token" value="{_e(csrf_token)}">
<input type="hidden" name="nonce" value="{_e(nonce)}">
<input type="hidden" name="lang" value="{_e(language)}">
<div class="field{" invalid" if text_error else ""}">
<label for="text">{_e(t["text"])}</label>
<p class="help" id="text-help">{_e(t["text_help"])}</p>
<textarea id="text" name="text" rows="6" required maxlength="50000" \
aria-describedby="{text_described}"{' aria-invalid="true"' if text_error else ""}>\
{_e(value("text"))}</textarea>
{_error_line("text", text_error)}
</div>
<fieldset{' class="invalid"' if hint_error else ""}><legend>{_e(t["hint"])}</legend>
{choices}
{_error_line("hint", hint_error)}
</fieldset>
<fieldset><legend>{_e(t["customer"])} <span class="opt">({_e(t["optional"])})</span></legend>
{
        _input(
            "customer_name",
            t["customer_name"],
            value("customer_name"),
            error("customer_name"),
            extra=no_fill + ' maxlength="200"',
        )
    }
{
        _input(
            "customer_email",
            t["customer_email"],
            value("customer_email"),
            error("customer_email"),
            kind="email",
            extra=no_fill + ' inputmode="email"',
        )
    }
{
        _input(
            "customer_phone",
            t["customer_phone"],
            value("customer_phone"),
            error("customer_phone"),
            kind="tel",
            extra=no_fill + ' maxlength="40"',
        )
    }
<div class="field{" invalid" if consent_error else ""}">
<label class="choice"><input type="checkbox" name="consent" value="yes"\
{" checked" if consent else ""}> {_e(t["consent"])}</label>
{_error_line("consent", consent_error)}
</div>
{
        _input(
            "callback_window",
            t["callback_window"],
            value("callback_window"),
            error("callback_window"),
            extra=f' maxlength="200" placeholder="{_e(t["callback_window_placeholder"])}"',
        )
    }
</fieldset>
<fieldset><legend>{_e(t["reporter"])}</legend>
<div class="field{" invalid" if reporter_error else ""}">\
<label for="reporter_id">{_e(t["reporter_id"])}</label>
<input type="text" id="reporter_id" value="{_e(user)}" readonly>\
{_error_line("reporter_id", reporter_error)}</div>
{
        _input(
            "reporter_department",
            t["reporter_department"],
            value("reporter_department"),
            error("reporter_department"),
            extra=' maxlength="100"',
            optional=t["optional"],
        )
    }
</fieldset>
<button type="submit">{_e(t["submit"])}</button>
</form>"""
    return _layout(language, t["title"], content)


def render_confirmation(*, language: str, signal_id: str) -> str:
    t = labels(language)
    content = f"""<h1 class="done">✓ {_e(t["done_title"])}</h1>
<p>{_e(t["done_body"])}</p>
<p class="ref">{_e(t["done_reference"])}<code id="signal-id">{_e(signal_id)}</code></p>
<a class="button" href="{_e(report_href(language))}">{_e(t["done_another"])}</a>
<a class="link" href="/report/status/{_e(quote(signal_id))}">{_e(t["done_status"])}</a>"""
    return _layout(language, t["done_title"], content)


def render_message(*, language: str, title_key: str, body_key: str, fresh_link: bool) -> str:
    """A short page for everything that is not the form: sign-in, expiry, not configured."""
    t = labels(language)
    link = (
        f'<a class="button" href="{_e(report_href(language))}">{_e(t["open_fresh"])}</a>'
        if fresh_link
        else ""
    )
    content = f"<h1>{_e(t[title_key])}</h1>\n<p>{_e(t[body_key])}</p>\n{link}"
    return _layout(language, t[title_key], content)
