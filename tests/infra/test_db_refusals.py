"""Which database failures count as a restart (``clipfeed.infra.db.restarts.refused``): the
texts are those psycopg and PostgreSQL 15 gave in tests/infra/test_db_restart.py and in the
cluster drill. A timeout must never count: waiting for a cut link would hold requests for
nothing."""

from __future__ import annotations

import psycopg
import pytest

from clipfeed.infra.db.restarts import RestartWatch, refused

RESTARTING = [
    'connection failed: connection to server at "127.0.0.1", port 5432 failed: Connection refused',
    'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  the database system '
    "is shutting down",
    'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  the database system '
    "is starting up",
    'connection failed: connection to server at "127.0.0.1", port 5432 failed: server closed the connection '
    "unexpectedly",
    "consuming input failed: server closed the connection unexpectedly",
]
NOT_RESTARTING = [
    'connection failed: connection to server at "10.0.0.9", port 5432 failed: timeout expired',
    "consuming input failed: could not receive data from server: Connection timed out",
    'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  password authentication '
    'failed for user "clipfeed"',
    "FATAL:  sorry, too many clients already",
]


@pytest.mark.parametrize("text", RESTARTING)
def test_a_refusal_or_a_closed_connection_is_a_restart(text: str) -> None:
    assert refused(psycopg.OperationalError(text))


@pytest.mark.parametrize("text", NOT_RESTARTING)
def test_a_timeout_or_another_refusal_is_not(text: str) -> None:
    assert not refused(psycopg.OperationalError(text))


def test_a_shutdown_sent_to_a_running_statement_is_a_restart() -> None:
    assert refused(psycopg.errors.AdminShutdown("terminating connection due to administrator command"))


def test_the_wait_is_counted_from_the_first_refusal_and_a_timeout_ends_it() -> None:
    now = [100.0]
    watch = RestartWatch(10.0, clock=lambda: now[0])
    refusal = psycopg.OperationalError("Connection refused")
    watch.connect_failed(refusal)
    assert not watch.restarting()  # never connected: a server down at start-up, not a restart
    watch.connected()
    watch.connect_failed(refusal)
    now[0] = 104.0
    watch.connect_failed(refusal)
    assert watch.restarting() and watch.wait_until(103.0, refusal) == 110.0  # arrived later: still 110
    now[0] = 110.0
    assert not watch.restarting()  # an outage now: requests fail at once
    watch.connect_failed(psycopg.OperationalError("timeout expired"))
    assert watch.refusing_since is None and watch.wait_until(now[0], refusal) is None
