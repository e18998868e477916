"""A line the buffer cannot store (the database is full) raises SQLite's own error, not a second error
from rolling back a transaction SQLite already ended."""

from __future__ import annotations

import sqlite3

import pytest

from ingest_host.buffer import Buffer


def test_a_full_buffer_raises_the_disk_full_error_itself(tmp_path):
    with Buffer(str(tmp_path / "buffer.sqlite3"), "NORMAL") as buffer:
        buffer.accept(b'{"limit":{"track":1}}')
        pages = buffer.db.execute("PRAGMA page_count").fetchone()[0]
        buffer.db.execute(f"PRAGMA max_page_count = {pages}")  # no room for another page: SQLITE_FULL
        with pytest.raises(sqlite3.OperationalError, match="database or disk is full") as raised:
            buffer.accept(b'{"other": "' + b"x" * 200_000 + b'"}')
        assert raised.value.__context__ is None  # not masked by "cannot rollback"
        assert not buffer.db.in_transaction
        buffer.db.execute(f"PRAGMA max_page_count = {pages * 100}")
        assert buffer.accept(b'{"limit":{"track":2}}').stored  # the buffer still works afterwards
