"""The CRM capability: what every CRM connector (Tryton, HubSpot, Salesforce) shares.

A new case becomes a lead; a colleague's later report of the same case becomes one note
on it. The pure functions below decide what a lead and a note say, so that the words
are the same in every CRM:

- the referring employee, as the lead's referral source (an advocacy programme can
  credit them);
- the callback window ("tomorrow morning") with the moment it falls due, for a task or
  an activity;
- the classification and its reasons;
- consent: without the customer's consent to be contacted, the CRM gets the lead
  without the contact details (no name, e-mail, phone or customer number, and e-mail
  addresses and phone numbers in the text are masked), and the record says consent is
  missing and whom to ask.

``CrmConnector`` runs a vendor's four calls through the case -> record mapping
(records.py), so a redelivery, a lost answer or a crash never makes a second lead or a
second note."""

from __future__ import annotations

import re
from abc import abstractmethod
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from schemas import CallbackWindow, Reporter, RoutedSignal
from services.connectors.base import (
    CaseNotDelivered,
    Connector,
    Delivered,
    StartupError,
)
from services.connectors.records import Entry, Record, Slot, known_record, write_once
from services.connectors.tickets import note_marker, ticket_subject

KEY_PREFIX = "antenna-"
CALLBACK_SLOT = "callback"  # the mapping's slot for a case's callback task
LEAD_SOURCE = "Employee referral"
CONSENT_MISSING = "Consent to contact: MISSING - contact details withheld"
# Where "tomorrow morning" is; the organisations Antenna serves are Dutch.
DEFAULT_TIMEZONE = "Europe/Amsterdam"

# Bounded, non-nested patterns: linear in the text's length.
_EMAIL = re.compile(r"[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}")
_PHONE = re.compile(r"(?<![\w])\+?\d[\d ()./-]{6,18}\d(?![\w])")


def record_key(signal_id: str) -> str:
    """The vendor-side key of what a signal wrote: a lead (the case's id) or a note (the
    duplicate's id). Unique custom properties and External ID fields hold it."""
    return KEY_PREFIX + signal_id


def callback_key(case_id: str) -> str:
    """The vendor-side key of a case's callback task."""
    return f"{KEY_PREFIX}{case_id}-{CALLBACK_SLOT}"


def callback_marker(case_id: str) -> str:
    return f"[antenna {case_id} {CALLBACK_SLOT}]"


def callback_subject(callback: Callback, case_id: str) -> str:
    return f"Call back: {callback.text or 'as agreed'} {callback_marker(case_id)}"


def refused(vendor: str, env: str) -> StartupError:
    """The start-up message for credentials a vendor refused (never the secret)."""
    return StartupError(f"{vendor} refused the credentials; check {env}")


@dataclass(frozen=True)
class Contact:
    name: str | None
    email: str | None
    phone: str | None
    customer_id: str | None


@dataclass(frozen=True)
class Callback:
    text: str | None
    due: datetime | None  # UTC; None when the window says no time


@dataclass(frozen=True)
class Lead:
    """A new case as every CRM receives it."""

    case_id: str
    key: str  # record_key(case_id)
    title: str
    body: str
    contact: Contact | None  # only with consent
    consent: bool
    referral_source: str
    referrer: Reporter
    callback: Callback | None
    kind: str
    category: str
    urgency: str
    confidence: float
    reasons: tuple[str, ...]
    target: str | None  # the routing rule's pipeline, queue or owner
    received_at: datetime
    routed: RoutedSignal  # for a CRM that is also a service desk (Salesforce Cases)


@dataclass(frozen=True)
class Note:
    """A colleague's later report of a case, as a note on the case's lead."""

    case_id: str
    signal_id: str
    key: str  # record_key(signal_id): its own external id
    subject: str
    body: str
    referral_source: str
    callback: Callback | None
    received_at: datetime
    routed: RoutedSignal


def has_consent(routed: RoutedSignal) -> bool:
    customer = routed.signal.customer
    return customer is not None and customer.consent_to_contact


def contact_of(routed: RoutedSignal) -> Contact | None:
    """The customer's contact details, only with their consent and when there are any."""
    customer = routed.signal.customer
    if customer is None or not customer.consent_to_contact:
        return None
    contact = Contact(
        name=customer.name,
        email=str(customer.email) if customer.email else None,
        phone=customer.phone,
        customer_id=customer.customer_id,
    )
    return contact if any(vars(contact).values()) else None


def referral_source(reporter: Reporter) -> str:
    """ "Employee referral: Sanne de Vries (E-1001, Branches)"."""
    who = reporter.name or reporter.email or reporter.employee_id or "an employee"
    details = [str(d) for d in (reporter.employee_id, reporter.department) if d and str(d) != who]
    return f"{LEAD_SOURCE}: {who}" + (f" ({', '.join(details)})" if details else "")


_DAY_WORDS = (
    ("day after tomorrow", 2),
    ("overmorgen", 2),
    ("tomorrow", 1),
    ("morgen", 1),  # also matches "morgenochtend"
    ("today", 0),
    ("vandaag", 0),
    ("vanavond", 0),
    ("vanmiddag", 0),
)
_PART_OF_DAY = (
    ("morning", 9),
    ("ochtend", 9),
    ("afternoon", 13),
    ("middag", 13),
    ("evening", 18),
    ("avond", 18),
)


def callback_due(
    window: CallbackWindow, received_at: datetime, timezone: str = DEFAULT_TIMEZONE
) -> datetime | None:
    """When the callback falls due (UTC): the window's start, else its end, else what
    its words say ("tomorrow morning", "morgenmiddag") in the organisation's time zone;
    None when there is nothing to go by."""
    if window.not_before is not None:
        return window.not_before
    if window.not_after is not None:
        return window.not_after
    text = (window.text or "").lower()
    days = next((n for word, n in _DAY_WORDS if word in text), None)
    hour = next((h for word, h in _PART_OF_DAY if word in text), None)
    if days is None and hour is None:
        return None
    zone = ZoneInfo(timezone)
    local = received_at.astimezone(zone)
    day = local.date() + timedelta(days=days or 0)
    due = datetime.combine(day, time(hour if hour is not None else 9), zone)
    if due <= local:  # "this morning" said in the afternoon: as soon as possible
        due = local
    return due.astimezone(received_at.tzinfo)


def callback_of(routed: RoutedSignal, timezone: str = DEFAULT_TIMEZONE) -> Callback | None:
    window = routed.signal.callback_window
    if window is None:
        return None
    due = callback_due(window, routed.signal.received_at, timezone)
    if not window.text and due is None:
        return None
    return Callback(window.text, due)


def callback_line(callback: Callback, timezone: str = DEFAULT_TIMEZONE) -> str:
    when = callback.text or "as agreed"
    if callback.due is not None:
        local = callback.due.astimezone(ZoneInfo(timezone))
        return f"Call back: {when} (due {local:%Y-%m-%d %H:%M} {timezone})"
    return f"Call back: {when}"


def mask_contact_details(text: str) -> str:
    """E-mail addresses and phone numbers out of a text, for a lead without consent."""
    return _PHONE.sub("[phone withheld]", _EMAIL.sub("[e-mail withheld]", text))


def _report_lines(routed: RoutedSignal, timezone: str) -> list[str]:
    signal, classification = routed.signal, routed.classification
    consent = has_consent(routed)
    text = signal.text.strip()
    lines = [text if consent else mask_contact_details(text), ""]
    contact = contact_of(routed)
    if consent:
        lines.append("Consent to contact: yes")
        if contact is not None:
            lines += [
                f"Customer: {contact.name or '(no name)'}",
                f"E-mail: {contact.email or '-'}",
                f"Phone: {contact.phone or '-'}",
            ]
            if contact.customer_id:
                lines.append(f"Customer number: {contact.customer_id}")
    else:
        who = signal.reporter.name or signal.reporter.employee_id or "the referring employee"
        lines.append(f"{CONSENT_MISSING}; ask {who} to ask the customer first.")
    callback = callback_of(routed, timezone)
    if callback is not None:
        lines.append(callback_line(callback, timezone))
    lines += [
        "",
        referral_source(signal.reporter)
        + f" via {signal.channel.value} on {signal.received_at:%Y-%m-%d %H:%M} UTC",
        f"Antenna: {classification.kind.value}, {classification.category.value}, "
        f"urgency {classification.urgency.value}, confidence {classification.confidence:.2f}"
        f" (rule {routed.rule_id}); signal {signal.signal_id}",
    ]
    if classification.reasons:
        lines.append("Why: " + "; ".join(classification.reasons))
    return lines


def lead_of(routed: RoutedSignal, timezone: str = DEFAULT_TIMEZONE) -> Lead:
    signal, classification = routed.signal, routed.classification
    return Lead(
        case_id=signal.signal_id,
        key=record_key(signal.signal_id),
        title=lead_title(routed),
        body="\n".join(_report_lines(routed, timezone)) + "\n",
        contact=contact_of(routed),
        consent=has_consent(routed),
        referral_source=referral_source(signal.reporter),
        referrer=signal.reporter,
        callback=callback_of(routed, timezone),
        kind=classification.kind.value,
        category=classification.category.value,
        urgency=classification.urgency.value,
        confidence=classification.confidence,
        reasons=tuple(classification.reasons),
        target=routed.destination.target,
        received_at=signal.received_at,
        routed=routed,
    )


def lead_title(routed: RoutedSignal) -> str:
    title = ticket_subject(routed)  # "<category>: <first line>", at most 80 characters
    return title if has_consent(routed) else mask_contact_details(title)


def note_of(routed: RoutedSignal, timezone: str = DEFAULT_TIMEZONE) -> Note:
    signal = routed.signal
    count = routed.dedupe.reporters_count
    intro = f"Another colleague reported this case; {count} colleagues have reported it so far."
    return Note(
        case_id=routed.dedupe.cluster_id,
        signal_id=signal.signal_id,
        key=record_key(signal.signal_id),
        subject=f"Reported again ({count} colleagues so far) {note_marker(signal.signal_id)}",
        body=intro + "\n\n" + "\n".join(_report_lines(routed, timezone)) + "\n",
        referral_source=referral_source(signal.reporter),
        callback=callback_of(routed, timezone),
        received_at=signal.received_at,
        routed=routed,
    )


async def _nothing(entry: Entry) -> Record | None:
    return None


class CrmConnector(Connector):
    """The CRM capability. A vendor implements four calls; the mapping decides when
    each is needed. ``find_lead`` and ``find_note`` look a record up by the vendor's own
    key (``Lead.key`` / ``Note.key``); they are asked only when an earlier attempt may
    have written it, or when the mapping is not durable."""

    timezone: str = DEFAULT_TIMEZONE
    #: Whether the CRM has tasks: then the callback window becomes one, due then,
    #: written once like a note (``find_callback`` / ``add_callback``).
    callback_tasks: bool = False
    #: Whether ``create_lead`` is an upsert by the case's key (HubSpot, Salesforce): then
    #: a retry after a lost answer runs it again, which also completes what the lost
    #: attempt may not have reached (the contact and its association), instead of only
    #: looking the lead up.
    upserts: bool = False

    async def deliver(self, routed: RoutedSignal) -> Delivered:
        records = self.context.records
        if routed.dedupe.duplicate_of is None:
            lead = lead_of(routed, self.timezone)
            record = await write_once(
                records,
                Slot(lead.case_id),
                find=_nothing
                if self.upserts
                else lambda entry: self.find_lead(lead.case_id, entry),
                create=lambda attempt: self.create_lead(lead),
            )
            if self.callback_tasks and lead.callback is not None:
                # A slot of its own: a crash between the lead and its task leaves the
                # task to the next attempt instead of losing it.
                await write_once(
                    records,
                    Slot(lead.case_id, note=CALLBACK_SLOT),
                    find=lambda entry: self.find_callback(record, lead),
                    create=lambda attempt: self.add_callback(record, lead),
                )
            return Delivered(record.name, record.url)
        note = note_of(routed, self.timezone)
        case = await known_record(
            records, note.case_id, lambda entry: self.find_lead(note.case_id, entry)
        )
        if case is None:
            raise CaseNotDelivered("the case's lead does not exist yet")  # still under way?
        await write_once(
            records,
            Slot(note.case_id, note=note.signal_id),
            find=lambda entry: self.find_note(case, note),
            create=lambda attempt: self.add_note(case, note),
        )
        return Delivered(case.name, case.url)

    @abstractmethod
    async def find_lead(self, case_id: str, entry: Entry) -> Record | None:
        """The lead written for ``case_id`` (key ``record_key(case_id)``), if any."""

    @abstractmethod
    async def create_lead(self, lead: Lead) -> Record:
        """Write ``lead`` (with its contact when there is one, and its callback task)."""

    @abstractmethod
    async def find_note(self, lead: Record, note: Note) -> Record | None:
        """The note written for ``note.key`` on ``lead``, if any."""

    @abstractmethod
    async def add_note(self, lead: Record, note: Note) -> Record:
        """Add ``note`` to ``lead``; return the note's record."""

    async def find_callback(self, lead: Record, case: Lead) -> Record | None:
        """The callback task written for ``case`` on ``lead``, if any."""
        raise NotImplementedError

    async def add_callback(self, lead: Record, case: Lead) -> Record:
        """A task on ``lead``, due ``case.callback.due``, to call the customer back."""
        raise NotImplementedError
