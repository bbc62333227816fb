"""Who may hand mail to the SMTP listener, and whether a relay vouches for the sender.
Pure: no I/O, no clock.

- ``in_networks``: the peer's address is inside the configured relay networks.
- ``check_credentials``: SMTP AUTH against configured ``user:password`` pairs, in
  constant time.
- ``vouched_for``: the relay's own ``Authentication-Results`` header (RFC 8601) says that
  SPF, DKIM or DMARC passed for the From domain. Only the topmost such header counts: a
  relay prepends its header above everything the sender wrote, so a header the sender
  forged sits below it and is never read.
- ``PeerSessions``: how many sessions each peer has open, for a cap.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Iterable, Sequence
from email.message import Message
from email.utils import getaddresses

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# method=result, then its properties (ptype.property=value), up to the next ";".
# A method name starts a token (the lookbehind): a long run of letters is then scanned once,
# not once per position (quadratic).
_RESULT = re.compile(r"(?<![a-z0-9_-])([a-z0-9_-]+)\s*=\s*([a-z]+)([^;]*)", re.IGNORECASE)
_PROPERTY = re.compile(r"(?:header\.from|header\.d|header\.i|smtp\.mailfrom)\s*=\s*(\S+)", re.I)
_COMMENT = re.compile(r"\([^()]*\)")
PASSING_METHODS = frozenset({"dmarc", "dkim", "spf"})


def parse_networks(values: Iterable[str]) -> list[Network]:
    """``127.0.0.0/8``, ``::1``, ``10.0.0.5``; ValueError names a bad entry."""
    networks: list[Network] = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(f"not an IP network: {value!r}") from None
    return networks


def in_networks(host: str | None, networks: Sequence[Network]) -> bool:
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # a dual-stack socket names IPv4 peers ::ffff:a.b.c.d
    return any(address in network for network in networks)


def _digest(value: bytes) -> bytes:
    return hashlib.sha256(value).digest()


def check_credentials(pairs: Iterable[str], login: bytes, password: bytes) -> bool:
    """Every configured pair is compared (no early exit), in constant time per pair."""
    presented = _digest(login), _digest(password)
    matched = False
    for pair in pairs:
        user, sep, secret = pair.partition(":")
        if not sep:
            continue
        same_user = hmac.compare_digest(presented[0], _digest(user.encode()))
        same_password = hmac.compare_digest(presented[1], _digest(secret.encode()))
        matched |= same_user & same_password
    return matched


def from_domain(headers: Message) -> str | None:
    """The domain of the single From address, lower-cased; None when there is not exactly
    one address."""
    values = headers.get_all("From") or []
    addresses = [address for _name, address in getaddresses([str(v) for v in values])]
    if len(addresses) != 1 or "@" not in addresses[0]:
        return None
    return addresses[0].rpartition("@")[2].strip().lower().rstrip(".") or None


def _domain_of(value: str) -> str:
    return value.strip().strip('"<>;').rpartition("@")[2].lower().rstrip(".")


def vouched_for(headers: Message, authserv_id: str, domain: str) -> bool:
    """True when the topmost Authentication-Results header is the relay's (its authserv-id
    is ``authserv_id``) and reports dmarc, dkim or spf ``pass`` for ``domain`` itself
    (header.from, header.d / header.i, or smtp.mailfrom)."""
    results = headers.get_all("Authentication-Results") or []
    if not results:
        return False
    text = _COMMENT.sub(" ", str(results[0]))
    served_by, _, rest = text.partition(";")
    if served_by.strip().lower().split()[:1] != [authserv_id.strip().lower()]:
        return False
    for method, result, properties in _RESULT.findall(rest):
        if method.lower() not in PASSING_METHODS or result.lower() != "pass":
            continue
        if any(_domain_of(value) == domain for value in _PROPERTY.findall(properties)):
            return True
    return False


class PeerSessions:
    """Open SMTP sessions per peer address, capped."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._open: dict[str, int] = {}

    def open(self, peer: str) -> bool:
        """Count a new session; False (and nothing counted) when the peer is at the cap."""
        count = self._open.get(peer, 0)
        if count >= self.cap:
            return False
        self._open[peer] = count + 1
        return True

    def close(self, peer: str) -> None:
        count = self._open.get(peer, 0) - 1
        if count > 0:
            self._open[peer] = count
        else:
            self._open.pop(peer, None)

    def count(self, peer: str) -> int:
        return self._open.get(peer, 0)
