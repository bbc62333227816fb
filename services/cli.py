"""The `antenna` command. Each subcommand is a thin wrapper around a service or helper."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

SAMPLES = {
    "complaint": "My neighbour's bank card has been declined three times this week and she is "
    "fed up. Nobody called her back.",
    "opportunity": "Mijn buurvrouw is geïnteresseerd in zonnepanelen en wil morgen na 17 uur "
    "gebeld worden voor een offerte.",
}


def _up(args: argparse.Namespace) -> int:
    from services.stack import up

    return up()


def _service(module: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        import importlib

        importlib.import_module(f"services.{module}.main").main()
        return 0

    return run


def _topics(args: argparse.Namespace) -> int:
    from services.common.kafka import describe_topics
    from services.common.settings import CommonSettings
    from services.stack import resolve_bootstrap

    settings = CommonSettings()
    described = describe_topics(
        resolve_bootstrap(settings).split(","), client_options=settings.kafka_client_options()
    )
    for name, partitions in sorted(described.items()):
        print(f"{name}\t{partitions} partition(s)")
    return 0


def _send(args: argparse.Namespace) -> int:
    import httpx

    from services.common.settings import CommonSettings
    from services.stack import Paths

    key = os.environ.get("ANTENNA_API_KEY")
    if not key:
        path = Paths(CommonSettings().var_dir).api_key
        if not path.exists():
            print("No API key: set ANTENNA_API_KEY or start `antenna up` first.", file=sys.stderr)
            return 2
        key = path.read_text().strip()
    reporter = {"employee_id": "e-1001", "name": "Sam Example", "department": "Retail"}
    if args.reporter_email:  # the notifier tells the reporter by mail
        reporter["email"] = args.reporter_email
    body = {
        "text": args.text or SAMPLES[args.kind],
        "channel": "api",
        "reporter": reporter,
        "customer": {"name": "Jan de Vries", "phone": "+31 6 12345678", "consent_to_contact": True},
    }
    headers = {"Authorization": f"Bearer {key}"}
    if args.idempotency_key:
        headers["Idempotency-Key"] = args.idempotency_key
    try:
        response = httpx.post(
            f"{args.url.rstrip('/')}/v1/signals", json=body, headers=headers, timeout=30
        )
    except httpx.TransportError as exc:
        print(f"Cannot reach {args.url}: {exc}", file=sys.stderr)
        return 1
    print(response.status_code, json.dumps(response.json()))
    return 0 if response.status_code == 202 else 1


def _offline(kind: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from services.processor import offline

        if kind == "classify":
            process = offline.classifier()
        elif kind == "dedupe":
            process = offline.deduplicator()
        else:
            # Only `route` reads the settings: pydantic-settings costs the others' start-up.
            from services.processor.settings import ProcessorSettings

            rules = args.rules or ProcessorSettings().routing_rules
            process = offline.router(offline.load_rules(rules), explain=args.explain)
        errors = offline.run(process, args.file)
        return 1 if errors else 0

    return run


def _evaluate(args: argparse.Namespace) -> int:
    from services.processor.evaluation import main as evaluation

    evaluation(third_set=args.third_set)
    return 0


def _train(args: argparse.Namespace) -> int:
    from services.processor.classifier.train import run

    return run(args)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="antenna", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "up", help="run the whole system (embedded broker unless KAFKA_BOOTSTRAP_SERVERS is set)"
    ).set_defaults(run=_up)
    for name in ("ingest", "processor", "connectors", "notifier", "insight"):
        sub.add_parser(name, help=f"run the {name} service alone").set_defaults(run=_service(name))
    sub.add_parser("topics", help="list the topics on the broker").set_defaults(run=_topics)
    offline_help = {
        "classify": "classify JSON lines (id, text[, channel, language]) offline",
        "dedupe": "find duplicates in JSON lines in arrival order (id, text, channel, "
        "reported_at, customer) offline",
        "route": "classify and route JSON lines with the routing rules offline",
    }
    evaluate = sub.add_parser(
        "evaluate", help="measure classification and dedupe on the held-out labelled data"
    )
    evaluate.add_argument(
        "--third-set",
        action="store_true",
        help="score the classifier on the third set too (once the work is done; `make evaluate`)",
    )
    evaluate.set_defaults(run=_evaluate)
    for name, text in offline_help.items():
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("file", nargs="?", type=Path, help="JSON lines; stdin when omitted")
        if name == "route":
            cmd.add_argument("--explain", action="store_true", help="say why each rule matched")
            cmd.add_argument(
                "--rules",
                type=Path,
                help="rules file (default: ANTENNA_ROUTING_RULES, else the built-in rules)",
            )
        cmd.set_defaults(run=_offline(name))
    send = sub.add_parser("send", help="post a sample signal to the running API")
    send.add_argument("--kind", choices=sorted(SAMPLES), default="complaint")
    send.add_argument("--text", help="your own text instead of the sample")
    send.add_argument("--idempotency-key")
    send.add_argument(
        "--reporter-email", help="the sample reporter's address: the notifier mails it"
    )
    send.add_argument("--url", default=os.environ.get("ANTENNA_API_URL", "http://127.0.0.1:8000"))
    send.set_defaults(run=_send)
    from services import dlq, labels
    from services.processor import offline_incidents

    dlq.add_parser(sub)
    offline_incidents.add_parser(sub)
    labels.add_parser(sub)
    train = sub.add_parser("train", help="retrain the classifier into a versioned model file")
    train.add_argument(
        "--labels", type=Path, nargs="*", default=[], help="operator labels (JSON lines)"
    )
    train.add_argument("--activate", action="store_true", help="switch to it when not worse")
    train.add_argument("--force", action="store_true", help="with --activate: switch anyway")
    train.add_argument("--tune", action="store_true", help="choose hyperparameters by CV")
    train.add_argument("--dir", type=Path, help="model directory (default var/models)")
    train.set_defaults(run=_train)
    return p


def main(argv: list[str] | None = None) -> None:
    from pydantic import ValidationError

    args = parser().parse_args(argv)
    try:
        sys.exit(args.run(args))
    except ValidationError as exc:
        # Never echo the input: it may be a secret.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or exc.title}: {e['msg']}"
            for e in exc.errors(include_input=False)
        )
        sys.exit(f"antenna: configuration error in {exc.title}: {problems}")
    except Exception as exc:
        if isinstance(exc, _user_errors()):
            sys.exit(f"antenna: {exc}")
        raise


def _user_errors() -> tuple[type[Exception], ...]:
    """Errors said in one line. Imported only when one is raised: the broker's and the
    connectors' modules cost `antenna classify` half a second of start-up."""
    from services.common.broker import BrokerStartError
    from services.connectors.base import StartupError
    from services.connectors.registry import UnknownConnector
    from services.processor.domain.route import RulesError

    return (BrokerStartError, UnknownConnector, RulesError, StartupError)


if __name__ == "__main__":
    main()
