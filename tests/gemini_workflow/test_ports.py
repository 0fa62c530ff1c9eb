"""Free loopback ports for the servers the workflow and the tests start."""

import socket

from gemini_workflow.ports import free_port, port_is_free


def test_free_port_can_be_bound_on_loopback() -> None:
    port = free_port()

    assert 1024 < port < 65536
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # raises if it was not free


def test_a_port_someone_listens_on_is_not_free() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert not port_is_free("127.0.0.1", port)
    assert port_is_free("127.0.0.1", port)
