"""The notifier as a Faust app: tells employees what became of their reports.

One agent reads the topics that speak of a case: signals.routed.servicedesk and
.crm (a case's first report), signals.duplicates (colleagues' reports), signals.delivered
(its ticket or lead) and signals.outcomes (resolved, won). All are keyed by the case
(duplicates by their cluster_id, contract 3), so a case's events share a partition
number and its state is local to one worker.

The inputs are read in offset order per partition, and their offsets kept by the notifier
(services/common/offsets.py; Faust's acks are off for them), in batches of what has been
fetched (up to ``BATCH``, a batch never waits for more): an event's offset is committed
once its notices are settled, once per batch and partition, and an event let go (its
notice waited for its channel when a rebalance or a stop began) is read again, with the
events after it of its partition, by this worker or the next owner of its partition.
Events of a batch not handled yet when a rebalance or a stop begins are let go too: as
one by one, nothing is handled once it began.

Per event, in order within the batch: fold it into the case's file (a changelog-backed
table), list the notices the file justifies (``cases.due``), and settle each one the
ledger (a second table, keyed by report and kind) does not know yet: send it, or record
why not (opted out, too old, no way to reach the employee). Each event is Faust's current
event while it is handled (``offsets.as_current``): both tables have one partition per
input partition, and each write, deletions included, lands in its event's partition.

When the broker acknowledges what (AckedTable, coalesced: a key written several times in
a batch is sent once):

- a notice sent (mail, Slack, Teams; or failed after a try): its ledger entry right after
  the send, before the next notice. A worker killed between a send and that
  acknowledgement sends the notice again when the event is read again; that window is
  one write, as it was when each event was handled alone;
- deletions (expiry): at once, the case files' before the ledger's, so that no case file
  outlives the ledger entries of its notices;
- everything else, once per batch, before its offsets are committed: the case files and
  the ledger entries of notices not sent (opted out, too old, no channel). A worker
  killed before that loses them together with the uncommitted events that made them:
  those are read again, and folding an event into a case file again, or deciding again
  not to send a notice nobody was sent, gives the same result.

Both tables expire with the dedupe window, and a partition
keeps at most its share of ANTENNA_NOTIFY_MAX_CASES case files (the oldest go first,
with their ledger entries). A case whose outcome is still to be told keeps its file past
the window, up to ANTENNA_OUTCOME_WATCH_DAYS and its share of
ANTENNA_OUTCOME_WATCH_MAX_CASES (services/common/open_cases.py). An event that
cannot be read goes to signals.dlq.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import faust
from pydantic import ValidationError

from schemas import topics
from services.common.faust_app import (
    acked_table,
    make_faust_app,
    park_on_dlq,
    pause_until_rebalance,
    raw_topic,
    released,
)
from services.common.follower import TopicFollower
from services.common.logging import fields
from services.common.offsets import (
    AfterRebalance,
    InputOffsets,
    Taken,
    one_by_one,
    take_in_order,
)
from services.common.open_cases import Watching
from services.common.table_bounds import Sweeps, share
from services.connectors.base import DeliveryError
from services.notifier import metrics
from services.notifier.addressing import Address, MailTo, SlackTo, address, mail, medium
from services.notifier.cases import (
    CaseFile,
    Notice,
    awaiting_since,
    case_of,
    due,
    new_case,
    read_fact,
    with_fact,
)
from services.notifier.ledger import (
    Settled,
    before_sending,
    entry,
    expired_keys,
    notice_keys,
    settled,
)
from services.notifier.preferences import PreferenceBook, wants_news
from services.notifier.senders import Senders
from services.notifier.sending import RELEASED, Pause, relay_policy, until_settled
from services.notifier.settings import NotifierSettings
from services.notifier.wording import slack_text, teams_text, word

log = logging.getLogger(__name__)
APP_ID = "antenna-notifier"
INPUTS = (
    topics.ROUTED_SERVICEDESK,
    topics.ROUTED_CRM,
    topics.DUPLICATES,
    topics.DELIVERED,
    topics.OUTCOMES,
)
EXPIRE_EVERY_S = 3600.0
# The most events handled at once (of those already fetched: a batch never waits for
# more): one commit per batch and partition, one acknowledged write per batch and table.
BATCH = 100
DAY_S = 86400.0


def create_app(settings: NotifierSettings, senders: Senders | None = None) -> faust.App:
    app = make_faust_app(APP_ID, settings)
    # Coalesced: each key written once per ``written()``, its latest value (AckedTable).
    cases = acked_table(app, "notify-cases", partitions=settings.topic_partitions, coalesce=True)
    ledger = acked_table(app, "notify-ledger", partitions=settings.topic_partitions, coalesce=True)
    dlq = raw_topic(app, topics.DLQ)
    # The inputs' offsets are kept here, not by Faust's acks (offsets.py): an event
    # is committed past once its notices are settled, and read again after a let-go.
    offsets = InputOffsets(app, INPUTS)
    app.sensors.add(AfterRebalance(offsets))
    book = PreferenceBook()

    def prefer(topic: str, record: Any) -> bool:
        applied = book.apply(record.key, record.value)
        metrics.OPTED_OUT.set(book.opted_out)
        return applied

    follower = TopicFollower(
        settings.bootstrap_list,
        [topics.PREFERENCES],
        prefer,
        name="preferences",
        client_id="antenna-notifier-preferences",
        report_caught_up=True,
    )
    media = senders or Senders(settings)
    policy = relay_policy(settings)
    window_s = settings.dedupe_window_days * DAY_S
    max_age = timedelta(days=settings.notify_max_age_days)
    keep = share(settings.notify_max_cases, settings.topic_partitions)
    sweeps = Sweeps(EXPIRE_EVERY_S, keep)
    hold = settings.hold(settings.topic_partitions)

    @app.task  # type: ignore[untyped-decorator]
    async def follow_preferences() -> None:
        follower.start()

    async def park(event: Any, error: str) -> None:
        await park_on_dlq(dlq, "notifier", event, error)
        metrics.DEAD_LETTERS.inc()

    async def send(notice: Notice, to: Address) -> None:
        wording = word(notice, settings.public_url)
        if isinstance(to, MailTo):
            assert media.mail is not None and settings.notify_from is not None
            await media.mail.send(mail(notice, wording, to, settings.notify_from, _now()))
        elif isinstance(to, SlackTo):
            assert media.slack is not None
            await media.slack.post(to, slack_text(wording))
        else:
            assert media.teams is not None
            await media.teams.post(teams_text(wording))

    async def settle(notice: Notice, partition: int, pause: Pause) -> bool:
        """Send ``notice`` or record why not; False: let go unsettled (see ``_deliver``)."""
        while not follower.caught_up.is_set():  # opt-outs are known before anything is sent
            if not await pause(0.1):
                return False
        to = address(notice.report, media.available)
        channel = medium(to).value if to is not None else "none"
        allowed = wants_news(book.notify, notice.report.reporter)
        outcome = before_sending(notice, _now(), max_age, allowed, to is not None)
        if outcome is None:
            assert to is not None  # before_sending says no_channel otherwise
            outcome = await _deliver(notice, to, channel, pause)
            if outcome is None:
                return False
            ledger[notice.key] = entry(outcome, channel, partition, time.time())
            # Gone out (or tried): recorded at once, so that a worker killed from here on
            # does not send it again.
            await ledger.written()
        else:  # not sent: recorded with the batch (handle_batch), before its commit
            ledger[notice.key] = entry(outcome, channel, partition, time.time())
        metrics.NOTICES.labels(channel, notice.kind.value, outcome.value).inc()
        log.info(
            "notice settled",
            extra=fields(
                signal_id=notice.report.signal_id,
                case_id=notice.case_id,
                kind=notice.kind.value,
                channel=channel,
                outcome=outcome.value,
            ),
        )
        return True

    async def _deliver(notice: Notice, to: Address, channel: str, pause: Pause) -> Settled | None:
        """Sent or failed; None when the wait for the channel was cut short by a
        rebalance or a shutdown: the notice stays due for whoever reads the event next."""

        def waiting(error: DeliveryError, delay_s: float) -> None:
            metrics.FAILED_ATTEMPTS.labels(channel).inc()
            metrics.PAUSED.labels(channel).set(1)
            log.warning(
                "notice waits for its channel",
                extra=fields(
                    signal_id=notice.report.signal_id,
                    kind=notice.kind.value,
                    channel=channel,
                    delay_s=round(delay_s, 2),
                    error=str(error)[:200],
                ),
            )

        try:
            refusal = await until_settled(lambda: send(notice, to), policy, waiting, pause)
        except Exception:  # a bug must not stop every later notice: this one is failed
            log.exception("cannot send notice", extra=fields(signal_id=notice.report.signal_id))
            return Settled.failed
        if refusal is RELEASED:
            return None
        metrics.PAUSED.labels(channel).set(0)
        if refusal is not None:
            log.warning(
                "notice refused for good",
                extra=fields(signal_id=notice.report.signal_id, error=str(refusal)[:200]),
            )
            return Settled.failed
        return Settled.sent

    def expire(partition: int, now: float) -> None:
        """Delete ``partition``'s expired entries: only while one of its events is the
        current event (the deletions go to its partition)."""
        cutoff = now - window_s
        for key in expired_keys(list(ledger.items()), partition, cutoff).keys:
            del ledger[key]
        # A case whose outcome is still to be told outlives the window (open_cases.py).
        watching = Watching(lambda _key, value: awaiting_since(value), hold, now)
        files = expired_keys(list(cases.items()), partition, cutoff, keep, watching)
        if files.crowded:
            metrics.OPEN_CASES_CROWDED.inc(files.crowded)
            log.warning(
                "open cases past the dedupe window let go: no room to tell their outcome",
                extra=fields(partition=partition, count=files.crowded),
            )
        for key in files.keys:
            for notice in notice_keys(cases.get(key)):
                if notice in ledger:
                    del ledger[notice]
            del cases[key]

    async def handle(event: Any, taken_in: int) -> bool:
        """Fold one event in and settle what it makes due; it is Faust's current event
        meanwhile (one_by_one). False: let go unfinished (a rebalance or a shutdown
        started after its batch was taken, or while a notice waited for its channel)."""
        if released(app, taken_in):
            return False  # as one by one: nothing is taken once either began
        msg = event.message
        try:
            fact = read_fact(msg.topic, event.value)
        except ValidationError as exc:
            await park(event, f"not a valid event for {msg.topic}: {exc}")
            return True
        now = time.time()
        key = case_of(fact)
        stored = _case_file(cases.get(key))
        case = stored or new_case(key, msg.partition, now)
        updated = with_fact(case, fact)
        if updated != case:  # acknowledged with the batch (handle_batch)
            cases[key] = updated.changed(partition=msg.partition, touched_at=now).model_dump(
                mode="json"
            )
        pause = pause_until_rebalance(app, taken_in)
        for notice in due(updated):
            if not settled(ledger.get(notice.key)) and not await settle(
                notice, msg.partition, pause
            ):
                log.info("let go of an event whose notice waits, for a rebalance or a stop")
                return False
        # Deletions go to the partition of the event being processed: expire each
        # partition while one of its events is.
        if sweeps.due(msg.partition, now):
            expire(msg.partition, now)
            # At once, the case files first: a sent notice's ledger write (settle) would
            # otherwise make deleted ledger entries durable before the deletion of their
            # case file, and a worker killed then would send them again.
            await cases.written()
            await ledger.written()
        return True

    each = one_by_one(handle)  # each event the current one while it is handled

    async def handle_batch(batch: list[Taken]) -> list[bool]:
        """Handle a batch in order, then wait for the broker to acknowledge every table
        write made (the case files, the ledger entries of notices not sent) before its
        offsets are committed. A write refused raises: the whole batch is
        read again (take_in_order)."""
        outcomes = await each(batch)
        await cases.written()
        await ledger.written()
        return list(outcomes)

    # One actor for every input (not one per partition): a case's events come from five
    # topics, and two actors could both send a notice neither has recorded yet.
    @app.agent(raw_topic(app, *INPUTS, acks=False), name="notify")
    async def notify(stream: faust.StreamT[bytes]) -> None:
        await take_in_order(offsets, stream, handle_batch, most=BATCH)

    return app


def _case_file(value: Any) -> CaseFile | None:
    if value is None:
        return None
    try:
        return CaseFile.model_validate(value)
    except ValidationError:
        log.warning("unreadable case file, starting afresh")
        return None


def _now() -> datetime:
    return datetime.now(UTC)
