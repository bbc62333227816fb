"""A real Tryton 8.2 (sale_opportunity, SQLite) on loopback for the integration tests.

`make tryton` installs the pinned set (tryton-requirements.txt) into var/tryton-venv;
without it the tests skip. Initialising a database takes 20-30 s, so it is done once by
tryton-test-up.sh (the shared recipe) into a template (var/tryton-template, rebuilt when
the pinned set changes); each test session copies the template's SQLite files (with
their -wal and -shm, see the recipe's caveats) and starts trytond on them in about 1 s."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.broker import free_port
from tests.support.request_tracker import stop_session

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
UP_SCRIPT = HERE / "tryton-test-up.sh"
REQUIREMENTS = HERE / "tryton-requirements.txt"
VENV = ROOT / "var" / "tryton-venv"
TEMPLATE = ROOT / "var" / "tryton-template"
DB = "antenna"


@dataclass(frozen=True)
class Tryton:
    url: str
    database: str
    user: str
    password: str

    def rpc(self, method: str, *params: Any) -> Any:
        """One JSON-RPC call as admin (a fresh login each time: tests only)."""
        base = f"{self.url}/{self.database}/rpc/"
        login = httpx.post(
            base,
            json={
                "id": 0,
                "method": "common.db.login",
                "params": [self.user, {"password": self.password}, "en"],
            },
            timeout=30,
        ).json()["result"]
        auth = base64.b64encode(f"{self.user}:{login[0]}:{login[1]}".encode()).decode()
        answer = httpx.post(
            base,
            json={"id": 1, "method": method, "params": list(params)},
            headers={"Authorization": f"Session {auth}"},
            timeout=30,
        ).json()
        if answer.get("error"):
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    def company(self) -> int:
        return int(self.rpc("model.res.user.get_preferences", True, {})["company"])

    def opportunities(self, reference: str) -> list[dict[str, Any]]:
        fields = ["number", "reference", "state", "party", "description", "comment"]
        rows: list[dict[str, Any]] = self.rpc(
            "model.sale.opportunity.search_read",
            [["reference", "=", reference]],
            0,
            None,
            None,
            fields,
            {"company": self.company()},
        )
        return rows

    def click(self, model: str, button: str, record_id: int) -> None:
        """A button of a record's form, as a person clicks it in Tryton."""
        self.rpc(f"model.{model}.{button}", [record_id], {"company": self.company()})

    def win(self, opportunity_id: int) -> None:
        """What a salesperson does in Tryton until the opportunity is won: qualify it (an
        employee on it), convert it to a sale, put a line on the sale, quote and
        confirm it. Tryton itself then marks the opportunity won. A lead that came without
        the customer's consent has no party: the salesperson enters the customer first."""
        company = self.company()
        context = {"company": company}
        [seller] = self.rpc("model.party.party.create", [{"name": "Sales person"}], {})
        [employee] = self.rpc(
            "model.company.employee.create", [{"party": seller, "company": company}], context
        )
        changes: dict[str, Any] = {"employee": employee}
        [lead] = self.rpc("model.sale.opportunity.read", [opportunity_id], ["party"], context)
        if lead["party"] is None:
            [customer] = self.rpc("model.party.party.create", [{"name": "Customer"}], {})
            changes["party"] = customer
        self.rpc("model.sale.opportunity.write", [opportunity_id], changes, context)
        self.click("sale.opportunity", "opportunity", opportunity_id)
        self.click("sale.opportunity", "convert", opportunity_id)
        [row] = self.rpc(
            "model.sale.opportunity.read", [opportunity_id], ["sales", "party"], context
        )
        [sale] = row["sales"]
        # The customer's address, which a quote needs, and what is sold.
        [address] = self.rpc(
            "model.party.address.create", [{"party": row["party"], "street": "Dorpsstraat 1"}], {}
        )
        line = {"type": "comment", "description": "Solar panels, 12 x 410 Wp"}
        self.rpc(
            "model.sale.sale.write",
            [sale],
            {"invoice_address": address, "lines": [["create", [line]]]},
            context,
        )
        self.click("sale.sale", "quote", sale)
        self.click("sale.sale", "confirm", sale)

    def notes(self, opportunity_id: int) -> list[str]:
        rows = self.rpc(
            "model.ir.note.search_read",
            [["resource", "=", f"sale.opportunity,{opportunity_id}"]],
            0,
            None,
            None,
            ["message"],
            {},
        )
        return [str(row["message"]) for row in rows]

    def party(self, party_id: int) -> dict[str, Any]:
        [row] = self.rpc("model.party.party.read", [party_id], ["name", "email", "phone"], {})
        return dict(row)

    def parties_named(self, name: str) -> int:
        return len(self.rpc("model.party.party.search", [["name", "=", name]], 0, None, None, {}))

    def application_key(self) -> tuple[str, str]:
        """A REST application key of a dedicated user with the Sale Opportunity group."""
        company = self.company()
        [group] = self.rpc(
            "model.res.group.search", [["name", "=", "Sale Opportunity"]], 0, None, None, {}
        )
        login = f"antenna-{free_port()}"
        [user] = self.rpc(
            "model.res.user.create",
            [
                {
                    "name": "Antenna connector",
                    "login": login,
                    "groups": [["add", [group]]],
                    "companies": [["add", [company]]],
                    "company": company,
                }
            ],
            {},
        )
        [app] = self.rpc(
            "model.res.user.application.create", [{"user": user, "application": "rest"}], {}
        )
        [row] = self.rpc("model.res.user.application.read", [app], ["key"], {})
        return login, str(row["key"])


def _fingerprint() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes() + UP_SCRIPT.read_bytes()).hexdigest()[:16]


def _wait_until_up(
    url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 60
) -> None:
    deadline = time.monotonic() + timeout_s
    body = {"id": 0, "method": "common.server.version", "params": []}
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"trytond exited: {log.read_text()[-2000:]}")
        try:
            httpx.post(f"{url}/rpc/", json=body, timeout=2).raise_for_status()
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"trytond did not answer on {url} within {timeout_s}s")


def _template() -> Path:
    """An initialised, stopped database (SQLite + WAL files) and its admin password."""
    fingerprint = _fingerprint()
    if (TEMPLATE / "ready").exists() and (TEMPLATE / "ready").read_text() == fingerprint:
        return TEMPLATE
    building = TEMPLATE.with_name(f"tryton-template.{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    env = {**os.environ, "TRYTON_VENV": str(VENV)}
    result = subprocess.run(
        [str(UP_SCRIPT), str(building), str(free_port())],
        capture_output=True,
        text=True,
        timeout=400,
        env=env,
    )
    if result.returncode != 0:
        raise RuntimeError(f"Tryton did not start: {result.stderr[-2000:]}")
    values = dict(item.split("=", 1) for item in result.stdout.split())
    stop_session(
        int(values["TRYTON_PID"])
    )  # a stopped server: its -wal holds what the set-up wrote
    (building / "ready").write_text(fingerprint)
    shutil.rmtree(TEMPLATE, ignore_errors=True)
    building.rename(TEMPLATE)
    return TEMPLATE


@contextmanager
def tryton_server(workdir: Path) -> Iterator[Tryton]:
    if not (VENV / "bin" / "trytond").exists():
        pytest.skip(f"Tryton absent: `make tryton` installs it into {VENV}")
    template = _template()
    (workdir / "db").mkdir(parents=True)
    for path in (template / "db").glob(f"{DB}.sqlite*"):
        shutil.copy2(path, workdir / "db" / path.name)
    port = free_port()
    conf = workdir / "trytond.conf"
    conf.write_text(
        f"[database]\nuri = sqlite://\npath = {workdir / 'db'}\n\n"
        f"[web]\nlisten = 127.0.0.1:{port}\n\n"
        # A test of a wrong password must not lock the right one out.
        "[session]\nmax_attempt = 1000\n"
    )
    log = workdir / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(VENV / "bin" / "trytond"), "-c", str(conf), "-d", DB],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, proc, log)
        password = (template / "admin.pass").read_text().strip()
        yield Tryton(url, DB, "admin", password)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # trytond leads its own session
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)
