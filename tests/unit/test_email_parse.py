"""parse_email and to_submission: the whole corpus in tests/fixtures/emails against
expected.json (every file, every expectation), then the edge cases and malformed input."""

from __future__ import annotations

import base64
import json
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from schemas import Channel
from services.ingest.email.parse import (
    MalformedEmail,
    ParsedEmail,
    decode_bytes,
    html_to_text,
    parse_email,
    to_submission,
    unflow,
)

CORPUS = Path(__file__).parents[1] / "fixtures" / "emails"
EXPECTED: dict[str, dict[str, Any]] = json.loads((CORPUS / "expected.json").read_text())
EXPECTATIONS = {
    "message_id",
    "reporter_email",
    "customer_email",
    "customer_name",
    "subject",
    "language",
    "text_contains",
    "text_excludes",
    "attachments",
    "auto_generated",
}


def _parsed(name: str) -> ParsedEmail:
    return parse_email((CORPUS / name).read_bytes())


# --- the corpus -------------------------------------------------------------------------


def test_every_corpus_file_has_expectations_and_every_expectation_is_checked() -> None:
    assert sorted(p.name for p in CORPUS.glob("*.eml")) == sorted(EXPECTED)
    assert len(EXPECTED) == 20
    for name, expected in EXPECTED.items():
        assert set(expected) == EXPECTATIONS, name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_headers(name: str) -> None:
    expected, parsed = EXPECTED[name], _parsed(name)
    assert parsed.message_id == expected["message_id"]
    assert parsed.reporter.email == expected["reporter_email"]
    assert parsed.subject == expected["subject"]
    assert parsed.language == expected["language"]
    assert parsed.auto_generated is expected["auto_generated"]
    assert (parsed.auto_reason is not None) is expected["auto_generated"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_customer(name: str) -> None:
    expected, parsed = EXPECTED[name], _parsed(name)
    if expected["customer_email"] is None:
        assert parsed.customer is None
        assert expected["customer_name"] is None
    else:
        assert parsed.customer is not None
        assert parsed.customer.email == expected["customer_email"]
        assert parsed.customer.name == expected["customer_name"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_text(name: str) -> None:
    expected, parsed = EXPECTED[name], _parsed(name)
    for wanted in expected["text_contains"]:
        assert wanted in parsed.text, f"{name}: missing {wanted!r} in\n{parsed.text}"
    for unwanted in expected["text_excludes"]:
        assert unwanted not in parsed.text, f"{name}: kept {unwanted!r} in\n{parsed.text}"
    assert "\r" not in parsed.text
    assert "\ufeff" not in parsed.text  # the BOM some iPhones put in a forward
    assert parsed.text == parsed.text.strip()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_attachments(name: str) -> None:
    expected, parsed = EXPECTED[name], _parsed(name)
    found = [
        {"filename": a.filename, "content_type": a.content_type, "size": a.size}
        for a in parsed.attachments
    ]
    assert found == expected["attachments"]


@pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if not e["auto_generated"]))
def test_corpus_submission(name: str) -> None:
    expected, parsed = EXPECTED[name], _parsed(name)
    submission = to_submission(parsed)
    assert submission.channel is Channel.email
    assert submission.reporter.email == expected["reporter_email"]
    assert submission.reporter.name == parsed.reporter.name
    assert submission.subject == expected["subject"]
    assert submission.text == parsed.text
    assert submission.language == expected["language"]
    assert submission.metadata["message_id"] == expected["message_id"]
    assert [a.model_dump() for a in submission.attachments] == expected["attachments"]
    if expected["customer_email"] is None:
        assert submission.customer is None
    else:
        assert submission.customer is not None
        assert submission.customer.email == expected["customer_email"]
        assert submission.customer.name == expected["customer_name"]
        assert submission.customer.consent_to_contact is False


def test_corpus_details_a_reader_relies_on() -> None:
    assert _parsed("02_outlook_doorst_nl_qp_utf8.eml").reporter.name == "Renée Bakker"
    assert _parsed("09_outlook2007_windows1252_nl.eml").reporter.name == "José Müller"
    inline = _parsed("06_applemail_fwd_inline_image_en.eml").attachments
    assert [a.inline for a in inline] == [True]
    eleven = _parsed("11_outlook_fw_pdf_docx_logo_nl.eml").attachments
    assert [a.inline for a in eleven] == [True, False, False]
    # The bounce's returned headers and delivery status are not text of the signal.
    bounce = _parsed("17_bounce_dsn_en.eml")
    assert "Reporting-MTA" not in bounce.text
    assert bounce.auto_reason is not None and "auto-submitted" in bounce.auto_reason


# --- building messages for the edge cases -----------------------------------------------


def _message(
    body: str = "My neighbour's card was declined twice today at the supermarket.",
    *,
    sender: str = "Sanne de Vries <sanne@bank.example.nl>",
    subject: str = "Card declined",
    subtype: str = "plain",
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "signals@antenna.example.com"
    msg["Subject"] = subject
    msg["Message-ID"] = "<edge-case-1@bank.example.nl>"
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body, subtype=subtype)
    return msg


def test_a_plain_message_round_trips() -> None:
    parsed = parse_email(bytes(_message()))
    assert parsed.reporter.email == "sanne@bank.example.nl"
    assert parsed.reporter.name == "Sanne de Vries"
    assert parsed.text == "My neighbour's card was declined twice today at the supermarket."
    assert parsed.customer is None
    assert parsed.attachments == ()
    assert parsed.auto_generated is False
    assert parsed.idempotency_key == "<edge-case-1@bank.example.nl>"


def test_reporter_address_is_lower_cased() -> None:
    parsed = parse_email(bytes(_message(sender="Jan <Jan.Jansen@Bank.Example.NL>")))
    assert parsed.reporter.email == "jan.jansen@bank.example.nl"


@pytest.mark.parametrize(
    ("subject", "clean"),
    [
        ("Fwd: Card declined", "Card declined"),
        ("FW: FW: Card declined", "Card declined"),
        ("RE: Antw: RE: Card declined", "Card declined"),
        ("Doorst: WG: Re[2]: Card declined", "Card declined"),
        ("=?utf-8?q?Doorst=3A_Co=C3=B6rdinatie?=", "Coördinatie"),
        ("Signaal: klant boos", "Signaal: klant boos"),
        ("Reminder: fee", "Reminder: fee"),
    ],
)
def test_subject_prefixes_are_removed(subject: str, clean: str) -> None:
    raw = bytes(_message()).replace(b"Subject: Card declined", f"Subject: {subject}".encode())
    assert parse_email(raw).subject == clean


def test_html_only_mail_becomes_text_without_markup_or_signature() -> None:
    html = (
        "<html><head><style>p {color: red}</style><title>x</title></head><body>"
        "<p>Hallo,</p><p>De klant van Smit &amp; Zonen is boos:&nbsp;de terminal valt uit."
        "<br>Hij wil graag teruggebeld worden.</p>"
        '<div class="gmail_signature"><p>Mark<p>T 033 555 0134</div>'
        "<script>alert(1)</script></body></html>"
    )
    parsed = parse_email(bytes(_message(html, subtype="html")))
    assert parsed.text == (
        "Hallo,\nDe klant van Smit & Zonen is boos: de terminal valt uit.\n"
        "Hij wil graag teruggebeld worden."
    )


def test_html_to_text_keeps_paragraph_breaks_and_drops_tags() -> None:
    html = "<div>Hi Tom,</div><div><br></div><div>It broke.</div><table><tr><td>a</td><td>b</td>"
    assert html_to_text(html) == "Hi Tom,\n\nIt broke.\na b"


def test_quoted_printable_and_base64_bodies_are_decoded() -> None:
    text = "Één klant is geïnteresseerd in een offerte voor zonnepanelen, bel haar morgen."
    for cte in ("quoted-printable", "base64"):
        msg = EmailMessage()
        msg["From"] = "sanne@bank.example.nl"
        msg["Message-ID"] = "<x@y.nl>"
        msg.set_content(text, cte=cte)
        assert parse_email(bytes(msg)).text == text


@pytest.mark.parametrize(
    ("payload", "charset", "text"),
    [
        ("café €5".encode("cp1252"), "windows-1252", "café €5"),
        ("café €5".encode("cp1252"), "iso-8859-1", "café €5"),  # what senders mean
        ("café".encode(), "us-ascii", "café"),  # mislabelled UTF-8
        ("café".encode(), "x-unknown-charset", "café"),
        ("café".encode("cp1252"), "x-unknown-charset", "café"),
        ("Ψ".encode("iso-8859-7"), "iso-8859-7", "Ψ"),
    ],
)
def test_charsets_are_decoded_and_unknown_ones_fall_back(
    payload: bytes, charset: str, text: str
) -> None:
    assert decode_bytes(payload, charset) == text


def test_a_non_utf8_8bit_body_is_decoded_by_its_charset() -> None:
    raw = (
        b"From: Wim <wim@bank.example.nl>\r\nMessage-ID: <1@b.nl>\r\n"
        b"Content-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + "Hij wil één overzicht per jaar, op papier graag.".encode("latin-1")
    )
    assert parse_email(raw).text == "Hij wil één overzicht per jaar, op papier graag."


def test_format_flowed_lines_are_joined() -> None:
    flowed = "She tried us and \r\ngave up after a week.\r\n> quoted \r\n> line\r\n-- \r\nJoe"
    assert unflow(flowed) == "She tried us and gave up after a week.\n> quoted line\n-- \nJoe"
    assert unflow("one \ntwo", delsp=True) == "onetwo"


def test_an_attached_forward_gives_the_customer_and_her_words() -> None:
    original = _message(
        "I was charged twice for my subscription this month, please refund me.",
        sender="Linda Chen <Linda@Example.org>",
        subject="Charged twice",
    )
    outer = _message("FYI, see the attached mail.", subject="Fwd: Charged twice")
    outer.make_mixed()
    outer.attach(_rfc822(original))
    parsed = parse_email(bytes(outer))
    assert parsed.customer is not None
    assert (parsed.customer.email, parsed.customer.name) == ("linda@example.org", "Linda Chen")
    assert "FYI, see the attached mail." in parsed.text
    assert "I was charged twice for my subscription this month" in parsed.text
    assert [(a.filename, a.content_type) for a in parsed.attachments] == [
        ("Charged twice.eml", "message/rfc822")
    ]


def _rfc822(inner: EmailMessage) -> EmailMessage:
    part = EmailMessage()
    part.set_content(inner, disposition="attachment", filename="Charged twice.eml")
    return part


def test_a_forwarded_colleague_is_not_a_customer() -> None:
    body = (
        "Can you pick this up?\n\n---------- Forwarded message ---------\n"
        "From: Eva Mulder <eva@bank.example.nl>\nDate: Mon, 2 Nov 2026\nSubject: x\n\n"
        "A customer called about a blocked card; she is abroad and cannot pay."
    )
    assert parse_email(bytes(_message(body))).customer is None
    # ... and neither is anyone from a domain the caller names as internal.
    body = body.replace("eva@bank.example.nl", "eva@antenna.example.com")
    assert parse_email(bytes(_message(body))).customer is not None
    assert (
        parse_email(bytes(_message(body)), internal_domains=["antenna.example.com"]).customer
        is None
    )


@pytest.mark.parametrize(
    "attribution",
    [
        "On Mon, 2 Nov 2026 at 17:25, Linda Chen <Linda@Example.org> wrote:",
        "On Mon, 2 Nov 2026 at 17:25, Linda Chen <linda@example.org>\nwrote:",
        "On 2 Nov 2026, at 17:25, Linda Chen <linda@example.org> wrote:",
        "Op 2 nov. 2026 om 17:25 heeft Linda Chen <linda@example.org> het volgende geschreven:",
        "Op ma 2 nov 2026 om 17:25 schreef Linda Chen <linda@example.org>:",
    ],
)
def test_a_quoted_customer_mail_names_the_customer(attribution: str) -> None:
    body = (
        "She is still waiting for the refund, see her mail below.\n\n"
        f"{attribution}\n\n> I was charged twice for my subscription this month.\n"
    )
    parsed = parse_email(bytes(_message(body)))
    assert parsed.customer is not None
    assert (parsed.customer.email, parsed.customer.name) == ("linda@example.org", "Linda Chen")


def test_a_huge_mail_is_parsed_in_bounded_time_and_text() -> None:
    parsed = parse_email(bytes(_message("Op 3 nov schreef iemand iets\n" * 100_000)))
    assert 0 < len(parsed.text) <= 100_000
    assert len(to_submission(parsed).text) <= 50_000


def test_from_in_prose_is_not_a_forward_header() -> None:
    body = "From: what she told me, the app crashes. Mail her at jan@example.org today."
    assert parse_email(bytes(_message(body))).customer is None


def test_attachments_metadata_with_rfc2231_names_and_nameless_inline_images() -> None:
    msg = _message()
    pdf = b"%PDF-1.4" + b"x" * 992
    name = ("utf-8", "", "Offerte coördinatie.pdf")
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=name)
    png = b"\x89PNG" + b"\x00" * 60
    msg.add_attachment(png, maintype="image", subtype="png", disposition="inline")
    parsed = parse_email(bytes(msg))
    assert [(a.filename, a.content_type, a.size, a.inline) for a in parsed.attachments] == [
        ("Offerte coördinatie.pdf", "application/pdf", 1000, False),
        ("unnamed.png", "image/png", 64, True),
    ]


@pytest.mark.parametrize(
    ("headers", "content_type", "auto"),
    [
        ({"Auto-Submitted": "auto-replied"}, None, True),
        ({"Auto-Submitted": "auto-generated; owner-email=x@y.nl"}, None, True),
        ({"Auto-Submitted": "no"}, None, False),
        ({"Precedence": "junk"}, None, True),
        ({"Precedence": "list"}, None, True),
        ({"Precedence": "first-class"}, None, False),
        ({"List-Unsubscribe": "<https://news.example.org/u/1>"}, None, True),
        ({"X-Autoreply": "yes"}, None, True),
        ({"Return-Path": "<>"}, None, True),
        ({}, "multipart/report; report-type=delivery-status", True),
        ({}, None, False),
    ],
)
def test_auto_generated_mail_is_recognised(
    headers: dict[str, str], content_type: str | None, auto: bool
) -> None:
    raw = bytes(_message(headers=headers))
    if content_type:
        raw = raw.replace(
            b'Content-Type: text/plain; charset="utf-8"',
            f'Content-Type: {content_type}; boundary="b"'.encode(),
        ).replace(b"\n\nMy neighbour", b"\n\n--b\nContent-Type: text/plain\n\nMy neighbour")
        raw += b"\n--b--\n"
    assert parse_email(raw).auto_generated is auto


def test_a_long_message_id_is_no_idempotency_key() -> None:
    raw = bytes(_message()).replace(b"<edge-case-1@bank.example.nl>", b"<" + b"x" * 300 + b"@y>")
    assert parse_email(raw).idempotency_key is None


def test_signature_only_mail_keeps_its_text_rather_than_losing_the_signal() -> None:
    parsed = parse_email(bytes(_message("Sent from my iPhone")))
    assert parsed.text == "Sent from my iPhone"


def test_attachment_only_mail_uses_the_subject_as_text() -> None:
    raw = (
        b"From: a@bank.example.nl\r\nSubject: Fwd: scan of her letter\r\nMessage-ID: <2@b.nl>\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=a.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode(b"%PDF") + b"\r\n--b--\r\n"
    )
    parsed = parse_email(raw)
    assert parsed.text == "scan of her letter"
    assert to_submission(parsed).text == "scan of her letter"


def test_a_special_use_sender_domain_is_still_a_reporter() -> None:
    submission = to_submission(parse_email(bytes(_message(sender="dev@localhost"))))
    assert submission.reporter.email is None
    assert submission.reporter.employee_id == "dev@localhost"


# --- malformed input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"   \r\n\r\n", "empty"),
        (b"\x00\xff\xfe garbage \x00 that is no mail at all", "no header section"),
        (b"just some words\nwithout any header\n", "no header section"),
        (b"Subject: no sender\r\nMessage-ID: <a@b>\r\n\r\nHello there", "no From header"),
        (b"From: Jan Jansen\r\nSubject: x\r\n\r\nHello there", "no e-mail address"),
        (b"From: <>\r\nSubject: x\r\n\r\nHello there", "no e-mail address"),
        (b"From: jan@bank.example.nl\r\nSubject: x\r\n\r\n", "no text"),
        (b"From: jan@bank.example.nl\r\nSubject: x\r\n", "no text"),
        (
            b"From: jan@bank.example.nl\r\nContent-Type: multipart/mixed\r\n\r\nno boundary",
            "NoBoundaryInMultipartDefect",
        ),
        (
            b'From: jan@bank.example.nl\r\nContent-Type: multipart/mixed; boundary="zz"\r\n\r\n'
            b"the boundary never starts\r\n",
            "StartBoundaryNotFoundDefect",
        ),
    ],
)
def test_malformed_input_raises_a_clear_error(raw: bytes, reason: str) -> None:
    with pytest.raises(MalformedEmail) as error:
        parse_email(raw)
    assert reason in str(error.value)


def test_not_bytes_is_malformed() -> None:
    with pytest.raises(MalformedEmail):
        parse_email("From: a@b.nl\n\ntext")  # type: ignore[arg-type]


def test_to_submission_refuses_a_textless_message() -> None:
    parsed = parse_email(bytes(_message()))
    empty = ParsedEmail(**{**parsed.__dict__, "text": "  "})
    with pytest.raises(MalformedEmail):
        to_submission(empty)


def test_to_submission_truncates_what_the_schema_would_refuse() -> None:
    parsed = parse_email(bytes(_message("word " * 20_000, subject="s" * 800)))
    submission = to_submission(parsed)
    assert len(submission.text) <= 50_000
    assert submission.subject is not None and len(submission.subject) == 500
