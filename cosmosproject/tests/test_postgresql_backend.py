"""The PostgreSQL backend (cosmosproject.postgresql), against the real server; run by `make
test-postgres`. Its health check takes a healthy kept connection as usable without a query, and
finds out and replaces one the server has closed before a request uses it. Its timestamp loader
gives the values Django's gives: the same instants, in UTC, to the microsecond."""

from __future__ import annotations

import datetime
import time
from zoneinfo import ZoneInfo

import psycopg
import pytest
from django.contrib.auth import get_user_model
from django.db import close_old_connections, connection

from cosmosproject.postgresql.base import TIMESTAMPTZ_OID, UtcTimestamptzLoader

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL backend"),
    pytest.mark.django_db(transaction=True),
]


def _other_connection() -> psycopg.Connection:
    return psycopg.connect(**connection.get_connection_params(), autocommit=True)


def _last_statement(pid: int) -> str:
    with _other_connection() as other:
        return other.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()[0]


def _backend_pid() -> int:
    connection.ensure_connection()
    return connection.connection.info.backend_pid


def test_a_healthy_connection_is_usable_without_a_round_trip():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'the last statement'")
    pid = _backend_pid()

    assert connection.is_usable()

    # Django's own check would have sent "SELECT 1", and the server would show it as the last statement.
    assert _last_statement(pid) == "SELECT 'the last statement'"


def test_a_connection_the_server_closed_is_replaced_before_the_request_uses_it():
    get_user_model().objects.create_user("alice")
    pid = _backend_pid()
    with _other_connection() as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    deadline = time.monotonic() + 5
    while connection.is_usable() and time.monotonic() < deadline:  # the goodbye is on its way
        time.sleep(0.01)
    assert not connection.is_usable()

    close_old_connections()  # a request starts (cosmosproject.http_handler): the connection is checked
    assert [user.username for user in get_user_model().objects.all()] == ["alice"]
    assert _backend_pid() != pid


def test_a_failed_transaction_still_gets_the_real_check():
    pid = _backend_pid()
    connection.connection.execute("BEGIN")
    with pytest.raises(psycopg.errors.DivisionByZero):
        connection.connection.execute("SELECT 1 / 0")
    try:
        assert not connection.is_usable()  # Django's verdict: the statement fails in an aborted transaction
        assert _last_statement(pid) == "SELECT 1"
    finally:
        connection.close()


@pytest.mark.parametrize(
    "moment",
    [
        datetime.datetime(2026, 11, 28, 22, 31, 26, 647784, tzinfo=datetime.timezone.utc),
        datetime.datetime(2026, 11, 28, 22, 31, 26, tzinfo=datetime.timezone.utc),  # no fraction
        datetime.datetime(1969, 7, 20, 20, 17, 40, 1, tzinfo=datetime.timezone.utc),  # before 1970
        datetime.datetime(2026, 3, 29, 2, 30, tzinfo=ZoneInfo("Asia/Kolkata")),  # written with an offset
    ],
)
def test_timestamps_read_back_as_the_same_instant_in_utc(moment):
    user = get_user_model().objects.create_user("alice", date_joined=moment)

    read = get_user_model().objects.values_list("date_joined", flat=True).get(pk=user.pk)

    assert read == moment
    assert read.tzinfo is datetime.timezone.utc
    assert read.isoformat() == moment.astimezone(datetime.timezone.utc).isoformat()
    assert connection.connection.adapters.get_loader(TIMESTAMPTZ_OID, psycopg.pq.Format.TEXT) is UtcTimestamptzLoader
