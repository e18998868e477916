"""`ingest-host stream` on a full disk, as a real process: the buffer lives on a small tmpfs mounted in
a private mount namespace (nothing is left mounted), the local X server sends more than it holds."""

from __future__ import annotations

import sqlite3

from ingest_host.buffer import EXIT_DISK_FULL
from trending_tv_tests.ingest_host.conftest import run_cli_on_tmpfs
from trending_tv_tests.ingest_host.servers import BEARER, FakeX, post_ids_in, utc, v2_post
from trending_tv_tests.ingest_host.test_stream import UNCAPPED


def test_a_full_disk_stops_the_stream_with_exit_4_and_one_clear_line(env, tmp_path):
    """Posts of ~4 KB each into a 512 KiB tmpfs: the buffer fills after about ten. The stream stops
    at once with exit code 4 and one line naming the buffer (it does not reconnect and pay for posts
    it cannot keep), and every line it had committed is intact in the buffer."""
    buffer_dir = tmp_path / "buffer"
    buffer_dir.mkdir()
    saved = tmp_path / "saved"
    saved.mkdir()
    posts = [v2_post(n, utc(2024, 6, 1, 10, n % 60), text="x" * 4000) for n in range(1, 301)]
    with FakeX() as x:
        run_env = {
            **env,
            **UNCAPPED,
            "TRENDING_TV_X_API_URL": x.url,
            "TRENDING_TV_BUFFER": str(buffer_dir / "buffer.sqlite3"),
        }
        x.feed(*posts)
        # the buffer's files are copied out before the namespace (and its tmpfs) goes away
        result = run_cli_on_tmpfs(
            run_env, buffer_dir, "512k", ["stream"], then=f"cp {buffer_dir}/buffer.sqlite3* {saved}/"
        )
        connects = x.connects
    assert result.returncode == EXIT_DISK_FULL, result.stdout + result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"ingest-host: disk full: the buffer ({buffer_dir}/buffer.sqlite3) could not")
    assert "database or disk is full" in last and "stopped rather than pay" in last
    assert "Traceback" not in result.stderr and BEARER not in result.stdout + result.stderr
    assert connects == 1  # stopped, never reconnected
    print("\nstream on a full disk:", last)
    db = sqlite3.connect(saved / "buffer.sqlite3")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        stored = [raw for (raw,) in db.execute("SELECT raw FROM lines WHERE kind = 'post' ORDER BY rowid")]
    finally:
        db.close()
    # the posts committed before the disk filled, whole and in order; the rest were never stored
    assert 0 < len(stored) < len(posts)
    assert stored == posts[: len(stored)]
    assert post_ids_in(stored) == [str(n) for n in range(1, len(stored) + 1)]
    print(f"{len(stored)} of {len(posts)} posts committed before the disk filled, all intact")
