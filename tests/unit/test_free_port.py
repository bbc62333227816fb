"""free_port keeps the port reserved until the child binds it, and after."""

from __future__ import annotations

import socket

import pytest

from services.common.broker import free_port


def test_nobody_else_can_take_a_handed_out_port() -> None:
    port = free_port()
    with socket.socket() as stranger, pytest.raises(OSError, match="in use"):
        stranger.bind(("127.0.0.1", port))


def test_a_child_binding_with_so_reuseaddr_can_listen_on_it_and_again_after_a_restart() -> None:
    port = free_port()
    for _ in range(2):  # a service, then the same service restarted
        with socket.socket() as server:
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind(("127.0.0.1", port))
            server.listen()
            with socket.create_connection(("127.0.0.1", port), timeout=5):
                pass


def test_ports_are_not_handed_out_twice() -> None:
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == len(ports)
