"""What a service-desk ticket says about a case, and the note a duplicate adds. Pure:
every ticket connector (Request Tracker, and later others) writes the same words.

The marker ``[antenna <signal_id>]`` in a note's subject lets a connector see that a
note was added already, so a redelivered duplicate never adds a second one."""

from __future__ import annotations

import unicodedata

from schemas import RoutedSignal

SUBJECT_CHARS = 80
NO_SUMMARY = "(no text)"


def note_marker(signal_id: str) -> str:
    return f"[antenna {signal_id}]"


def _printable(line: str) -> str:
    """The line without control or format characters (a subject is one header line)."""
    return "".join(c for c in line if unicodedata.category(c)[0] != "C").strip()


def _summary(*texts: str | None) -> str:
    """The first line with something printable on it, from the subject, else the text.
    A subject of nothing but a control character has no such line (it once raised
    IndexError here): the text's first line stands in."""
    for text in texts:
        for line in (text or "").splitlines():
            if printable := _printable(line):
                return printable
    return NO_SUMMARY


def ticket_subject(routed: RoutedSignal) -> str:
    signal = routed.signal
    summary = _summary(signal.subject, signal.text)
    if len(summary) > SUBJECT_CHARS:
        summary = summary[: SUBJECT_CHARS - 1].rstrip() + "…"
    category = routed.classification.category.value.replace("_", " ")
    return f"{category}: {summary}"


def note_subject(routed: RoutedSignal) -> str:
    count = routed.dedupe.reporters_count
    return f"Reported again ({count} colleagues so far) {note_marker(routed.signal.signal_id)}"


def _customer_lines(routed: RoutedSignal) -> list[str]:
    customer = routed.signal.customer
    if customer is None:
        return ["Customer: not given"]
    lines = [
        f"Customer: {customer.name or '(no name)'}",
        f"E-mail: {customer.email or '-'}",
        f"Phone: {customer.phone or '-'}",
    ]
    if customer.customer_id:
        lines.append(f"Customer number: {customer.customer_id}")
    consent = "yes" if customer.consent_to_contact else "no - do not contact without asking"
    lines.append(f"Agreed to be contacted: {consent}")
    return lines


def _report_lines(routed: RoutedSignal) -> list[str]:
    signal, classification = routed.signal, routed.classification
    reporter = signal.reporter
    who = reporter.name or reporter.employee_id or reporter.email or "an employee"
    lines = [signal.text.strip(), ""]
    lines += _customer_lines(routed)
    if signal.callback_window and signal.callback_window.text:
        lines.append(f"Call back: {signal.callback_window.text}")
    lines += [
        "",
        f"Reported by {who}"
        + (f" ({reporter.department})" if reporter.department else "")
        + f" via {signal.channel.value} on {signal.received_at:%Y-%m-%d %H:%M} UTC",
    ]
    if signal.attachments:
        names = ", ".join(a.filename for a in signal.attachments)
        lines.append(f"Attachments (not transferred): {names}")
    lines.append(
        f"Antenna: {classification.kind.value}, {classification.category.value}, "
        f"urgency {classification.urgency.value}, confidence {classification.confidence:.2f}"
        f" (rule {routed.rule_id}); signal {signal.signal_id}"
    )
    return lines


def ticket_body(routed: RoutedSignal) -> str:
    return "\n".join(_report_lines(routed)) + "\n"


def note_body(routed: RoutedSignal) -> str:
    count = routed.dedupe.reporters_count
    intro = f"Another colleague reported this case; {count} colleagues have reported it so far."
    return intro + "\n\n" + ticket_body(routed)
