"""`antenna dlq`: list, show and replay what was parked on signals.dlq.

A letter's id is its place on signals.dlq (``<partition>-<offset>``): stable, and short
to type. ``replay`` re-publishes a letter's original payload to its original topic with
the header ``antenna-replay-of: <id>``; the connectors then try the parked signal again
through the same idempotent path (their ledger, the connector's lookup before create,
the webhook's Idempotency-Key), so replaying twice creates nothing new.

What became of a letter is read from the topics, not from local state, so every operator
sees the same: ``delivered`` (a later DeliveryResult says so: it supersedes the letter),
``parked again`` (its replay was parked again, under a newer id), ``replayed`` (a replay
is on its way) or ``parked``. ``replay`` takes only parked letters unless told
``--again``, so that a replayed or delivered letter is not replayed again by accident
(replayed anyway, it changes nothing: the connectors find it delivered).

Reading is plain kafka-python without a consumer group, from the beginning of each topic
up to its end when the command starts. The decisions below the readers are pure."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from schemas import DeadLetter, DeliveryResult, DeliveryStatus, RoutedSignal, topics
from services.common.dead_letters import REPLAY_HEADER, letter_id

PARKED = "parked"
REPLAYED = "replayed"
PARKED_AGAIN = "parked again"
DELIVERED = "delivered"
_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


# --------------------------------------------------------------------------- pure


@dataclass(frozen=True)
class Letter:
    id: str
    letter: DeadLetter
    signal_id: str | None  # from the payload when it is a RoutedSignal

    @property
    def destination(self) -> str | None:
        return self.letter.destination


@dataclass(frozen=True)
class View:
    """A letter and what became of it since."""

    letter: Letter
    state: str
    detail: str = ""  # e.g. the newer letter's id, or the delivery's external id
    replays: int = 0  # how often it was replayed


def letter_from(partition: int, offset: int, value: bytes | None) -> Letter | None:
    """None for a record that is no DeadLetter (it is skipped, never fatal)."""
    try:
        dead = DeadLetter.model_validate_json(value or b"")
    except ValidationError:
        return None
    try:
        signal_id: str | None = RoutedSignal.model_validate_json(dead.payload).signal.signal_id
    except ValidationError:
        signal_id = None
    return Letter(letter_id(partition, offset), dead, signal_id)


def parse_since(text: str, now: datetime) -> datetime:
    """``30m``, ``2h``, ``3d``, ``1w`` ago, or an ISO date or time (UTC when no zone)."""
    relative = _RELATIVE.match(text)
    if relative:
        amount, unit = float(relative.group(1)), relative.group(2)
        return now - timedelta(**{_UNITS[unit]: amount})
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"--since {text!r}: give a duration such as 30m, 2h, 3d, or a date like 2025-03-14"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def views(
    letters: Sequence[Letter],
    results: Iterable[DeliveryResult],
    replay_markers: Iterable[str],
) -> list[View]:
    """What became of each letter: a delivery after it wins, then a newer letter for its
    replay, then a replay on its way."""
    delivered: dict[str, list[DeliveryResult]] = {}
    for result in results:
        if result.status is DeliveryStatus.delivered:
            delivered.setdefault(result.signal_id, []).append(result)
    replays = Counter(replay_markers)
    parked_again: dict[str, str] = {}
    for letter in letters:
        if letter.letter.replay_of:
            parked_again[letter.letter.replay_of] = letter.id
    out = []
    for letter in letters:
        marks = replays[letter.id]
        later = [r for r in delivered.get(letter.signal_id or "", []) if r.at >= letter.letter.at]
        if later:
            out.append(View(letter, DELIVERED, later[-1].external_id or "", marks))
        elif letter.id in parked_again:
            out.append(View(letter, PARKED_AGAIN, parked_again[letter.id], marks))
        elif letter.id in replays:
            out.append(View(letter, REPLAYED, "", marks))
        else:
            out.append(View(letter, PARKED, "", marks))
    return out


def matches(
    view: View,
    destination: str | None = None,
    since: datetime | None = None,
    ids: Sequence[str] = (),
) -> bool:
    letter = view.letter
    if ids and letter.id not in ids:
        return False
    if destination is not None and letter.destination != destination:
        return False
    return since is None or letter.letter.at >= since


def to_replay(chosen: Sequence[View], again: bool) -> tuple[list[View], list[tuple[View, str]]]:
    """Which chosen letters are replayed, and why the others are not."""
    replay, skipped = [], []
    for view in chosen:
        if view.state == DELIVERED and not again:
            skipped.append((view, "delivered since; a replay would create nothing new"))
        elif view.state == PARKED_AGAIN and not again:
            skipped.append((view, f"replayed before and parked again as {view.detail}"))
        elif view.state == REPLAYED and not again:
            skipped.append((view, "replayed before; add --again to replay it once more"))
        else:
            replay.append(view)
    return replay, skipped


def _one_line(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def table(rows: Sequence[View]) -> str:
    header = ("ID", "PARKED (UTC)", "STAGE", "STATUS", "STATE", "SIGNAL", "ERROR")
    lines = [header]
    for view in rows:
        letter = view.letter.letter
        state = f"{view.state} {view.detail}".strip()
        lines.append(
            (
                view.letter.id,
                f"{letter.at:%Y-%m-%d %H:%M:%S}",
                letter.stage,
                letter.status.value if letter.status else "-",
                state,
                view.letter.signal_id or (letter.key or "-"),
                _one_line(letter.error, 60),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=False))
        + "  "
        + line[-1]
        for line in lines
    )


def details(view: View) -> str:
    letter = view.letter.letter
    data = letter.model_dump(mode="json", exclude={"payload"})
    data.update(id=view.letter.id, state=view.state, signal_id=view.letter.signal_id)
    if view.detail:
        data["state_detail"] = view.detail
    if view.replays:
        data["replays"] = view.replays
    try:
        payload: Any = json.loads(letter.payload)
    except ValueError:
        payload = letter.payload
    return json.dumps({**data, "payload": payload}, indent=2, ensure_ascii=False)


# --------------------------------------------------------------------------- Kafka


def read_topic(
    bootstrap: list[str], topic: str, options: Mapping[str, Any] | None = None
) -> list[Any]:
    """Every record of ``topic`` up to its end when called; no consumer group. ``options``:
    the kafka-python security options (CommonSettings.kafka_client_options)."""
    from kafka import KafkaConsumer, TopicPartition

    from services.common.kafka import known_end

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        **(options or {}),
        client_id="antenna-dlq",
        group_id=None,
        enable_auto_commit=False,
        consumer_timeout_ms=10_000,
    )
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return []
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        records: list[Any] = []
        pending = {tp for tp in tps if end[tp] > consumer.position(tp)}
        while pending:
            batch = consumer.poll(timeout_ms=1000)
            if not batch and all(consumer.position(tp) >= end[tp] for tp in pending):
                break
            for tp, got in batch.items():
                end[tp] = known_end(consumer, tp, end[tp])
                records.extend(r for r in got if r.offset < end[tp])
            pending = {tp for tp in pending if consumer.position(tp) < end[tp]}
        return records
    finally:
        consumer.close()


def _headers(record: Any) -> dict[str, bytes]:
    return {key: value for key, value in (record.headers or [])}


def load(bootstrap: list[str], options: Mapping[str, Any] | None = None) -> list[View]:
    letters = [
        letter
        for record in read_topic(bootstrap, topics.DLQ, options)
        if (letter := letter_from(record.partition, record.offset, record.value)) is not None
    ]
    results = []
    for record in read_topic(bootstrap, topics.DELIVERED, options):
        try:
            results.append(DeliveryResult.model_validate_json(record.value or b""))
        except ValidationError:
            continue
    markers = []
    for topic in sorted({letter.letter.topic for letter in letters}):
        for record in read_topic(bootstrap, topic, options):
            marker = _headers(record).get(REPLAY_HEADER)
            if marker:
                markers.append(marker.decode("utf-8", "replace"))
    return views(letters, results, markers)


def publish(
    bootstrap: list[str], chosen: Sequence[View], options: Mapping[str, Any] | None = None
) -> None:
    """Re-publish each letter's original payload to its original topic (acks=all)."""
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=bootstrap, **(options or {}), acks="all", client_id="antenna-dlq"
    )
    try:
        for view in chosen:
            letter = view.letter.letter
            producer.send(
                letter.topic,
                key=letter.key.encode() if letter.key is not None else None,
                value=letter.payload.encode(),
                headers=[(REPLAY_HEADER, view.letter.id.encode())],
            ).get(timeout=30)
    finally:
        producer.close()


# --------------------------------------------------------------------------- command


def add_parser(sub: Any) -> None:
    """Register `antenna dlq` on the CLI's subparsers."""
    dlq = sub.add_parser("dlq", help="list, show and replay what was parked on signals.dlq")
    commands = dlq.add_subparsers(dest="dlq_command", required=True)
    listing = commands.add_parser("list", help="parked letters and what became of them")
    _filters(listing)
    listing.add_argument(
        "--all", action="store_true", help="also letters delivered or replayed since"
    )
    show = commands.add_parser("show", help="one letter in full, with its original payload")
    show.add_argument("id", help="a letter id from `antenna dlq list`, e.g. 1-42")
    replay = commands.add_parser(
        "replay", help="re-publish parked letters to their original topics"
    )
    _filters(replay)
    replay.add_argument(
        "--id", action="append", default=[], dest="ids", metavar="ID", help="this letter"
    )
    replay.add_argument(
        "--again", action="store_true", help="also letters that were replayed before"
    )
    replay.add_argument("--dry-run", action="store_true", help="say what would be replayed")
    dlq.set_defaults(run=run)


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--destination", help="servicedesk, crm, ...")
    parser.add_argument("--since", help="parked since: 30m, 2h, 3d, or 2025-03-14[T09:00]")


def broker_options() -> tuple[list[str], dict[str, Any]]:
    """Where the broker is (the environment, or the one `antenna up` wrote down) and how
    to reach it securely."""
    from services.common.settings import CommonSettings
    from services.stack import resolve_bootstrap

    settings = CommonSettings()
    return resolve_bootstrap(settings).split(","), settings.kafka_client_options()


def run(args: argparse.Namespace) -> int:
    try:
        since = parse_since(args.since, datetime.now(UTC)) if getattr(args, "since", None) else None
    except ValueError as exc:
        print(f"antenna dlq: {exc}", file=sys.stderr)
        return 2
    bootstrap, options = broker_options()
    all_views = load(bootstrap, options)
    if args.dlq_command == "show":
        found = [v for v in all_views if v.letter.id == args.id]
        if not found:
            print(f"antenna dlq: no letter {args.id} on {topics.DLQ}", file=sys.stderr)
            return 1
        print(details(found[0]))
        return 0
    ids = getattr(args, "ids", [])
    chosen = [v for v in all_views if matches(v, args.destination, since, ids)]
    if args.dlq_command == "list":
        shown = chosen if args.all else [v for v in chosen if v.state in (PARKED, REPLAYED)]
        if not shown:
            print("No parked letters." if not args.all else "No letters.")
            return 0
        print(table(shown))
        return 0
    missing = sorted(set(ids) - {v.letter.id for v in chosen})
    for ident in missing:
        print(f"no letter {ident} on {topics.DLQ}", file=sys.stderr)
    replay, skipped = to_replay(chosen, args.again)
    for view, why in skipped:
        print(f"skipped {view.letter.id}: {why}")
    if not replay:
        print("Nothing to replay.")
        return 1 if missing else 0
    if not args.dry_run:
        publish(bootstrap, replay, options)
    verb = "would replay" if args.dry_run else "replayed"
    for view in replay:
        letter = view.letter
        print(
            f"{verb} {letter.id} -> {letter.letter.topic} "
            f"(signal {letter.signal_id or letter.letter.key or '-'})"
        )
    print(f"{len(replay)} letter(s) {verb}, {len(skipped)} skipped.")
    return 1 if missing else 0
