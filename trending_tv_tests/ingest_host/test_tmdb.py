"""`fetch-tmdb` and `refresh-shows` with the real tmdbv3api client against a local TMDB server."""

from __future__ import annotations

import json

from ingest_host.lake import Lake
from ingest_host.shows import Candidate, Override, derive_hashtag, merge_shows
from ingest_host.tracked_shows import parse_tracked_shows
from trending_tv_tests.ingest_host.conftest import run_cli
from trending_tv_tests.ingest_host.servers import TMDB_KEY, FakeTMDB, tmdb_show

SHOWS = "id,name,hashtags,aliases\n" + "".join(f"{i},Show {i},#Show{i},\n" for i in range(1, 11))


def _lake_lines(env, key: str) -> list[bytes]:
    return [line for line in Lake.from_url(env["TRENDING_TV_LAKE"]).read_bytes(key).split(b"\n") if line]


def test_fetch_tmdb_retries_transient_errors_and_never_saves_error_bodies(env, tmp_path):
    (tmp_path / "tracked_shows.csv").write_text(SHOWS)
    with FakeTMDB() as tmdb:
        for i in range(1, 11):
            tmdb.shows[i] = tmdb_show(i, f"Show {i}")
        ok = json.dumps(tmdb_show(3, "Show 3")).encode()
        tmdb.scripts[2] = [
            (429, {"success": False, "status_code": 25, "status_message": "limit"}),
            (200, None),
        ]
        tmdb.scripts[2][1] = (200, json.dumps(tmdb.shows[2]).encode())
        tmdb.scripts[3] = [(500, b"<html>bad gateway</html>"), (200, b"{not json"), (200, ok)]
        tmdb.scripts[4] = [(404, {"success": False, "status_code": 34, "status_message": "not found"})]
        tmdb.scripts[5] = [(404, {"status_code": 34, "status_message": "not found"})]  # no `success` key
        tmdb.scripts[6] = [(200, {"status_code": 34, "status_message": "The resource could not be found."})]
        tmdb.scripts[7] = [("hang", 3.0), (200, json.dumps(tmdb.shows[7]).encode())]  # timeout, then fine
        env["TRENDING_TV_TMDB_API_URL"] = tmdb.url
        env["TRENDING_TV_TMDB_MIN_COVERAGE"] = "0.7"
        result = run_cli(env, "fetch-tmdb", "--date", "2024-03-05")
        hits = {i: tmdb.hits(i) for i in range(1, 11)}
        keys_in_urls = sum(1 for _, q in tmdb.requests if q.get("api_key") == [TMDB_KEY])
    assert result.returncode == 0, result.stderr
    assert "7/10 shows (70.0%)" in result.stdout
    lines = _lake_lines(env, "tmdb_raw/2024/03/05/2024-03-05.json")
    assert [json.loads(line)["id"] for line in lines] == [1, 2, 3, 7, 8, 9, 10]
    assert lines[2] == ok  # as received, byte for byte
    assert hits[2] == 2 and hits[3] == 3 and hits[7] == 2  # cache off: every retry reached the server
    assert hits[4] == 1 and hits[5] == 1  # a 404 is final
    copied = Lake.from_url(env["TRENDING_TV_LAKE"]).read_text("tmdb_raw/2024/03/05/tracked_shows.csv")
    assert copied == SHOWS
    stats = json.loads(
        Lake.from_url(env["TRENDING_TV_LAKE"]).read_text("ingest_meta/tmdb_raw/2024/03/05/2024-03-05.json")
    )
    assert stats["coverage"] == 0.7 and stats["not_found"] == [4, 5, 6] and stats["failed"] == {}
    assert keys_in_urls >= 10  # tmdbv3api sends the key in the URL ...
    lake_text = b"".join(p.read_bytes() for p in (tmp_path / "lake").rglob("*") if p.is_file())
    assert TMDB_KEY.encode() not in lake_text  # ... but it is never in the lake,
    assert TMDB_KEY not in result.stdout + result.stderr  # nor in the output


def test_fetch_tmdb_fails_below_the_coverage_threshold(env, tmp_path):
    (tmp_path / "tracked_shows.csv").write_text(SHOWS)
    with FakeTMDB() as tmdb:
        for i in range(1, 9):
            tmdb.shows[i] = tmdb_show(i, f"Show {i}")
        tmdb.scripts[8] = [(500, {"success": False, "status_code": 11, "status_message": "Internal error"})]
        env["TRENDING_TV_TMDB_API_URL"] = tmdb.url
        result = run_cli(env, "fetch-tmdb", "--date", "2024-03-05")
    assert result.returncode == 1
    assert "coverage 70.0% is below 95%" in result.stderr
    assert len(_lake_lines(env, "tmdb_raw/2024/03/05/2024-03-05.json")) == 7
    assert TMDB_KEY not in result.stdout + result.stderr


def test_fetch_tmdb_401_stops_at_once_and_writes_nothing(env, tmp_path):
    (tmp_path / "tracked_shows.csv").write_text(SHOWS)
    with FakeTMDB(key="another-key") as tmdb:
        env["TRENDING_TV_TMDB_API_URL"] = tmdb.url
        result = run_cli(env, "-v", "fetch-tmdb", "--date", "2024-03-05")
        calls = len(tmdb.requests)
    assert result.returncode == 3
    # at once: the first refusal ends the command, no retry and no other show is asked for
    assert "TMDB rejected the API key" in result.stderr and calls == 1
    assert not (tmp_path / "lake" / "tmdb_raw").exists()
    assert TMDB_KEY not in result.stdout + result.stderr  # even with -v (urllib3 logs URLs at DEBUG)
    assert "api_key=***" in result.stderr


def test_refresh_shows_merges_popular_with_overrides(env, tmp_path):
    overrides = tmp_path / "overrides.csv"
    overrides.write_text(
        "# test overrides\n"
        "id,name,hashtags,aliases,action\n"
        "102,,#OfficeUS|#TheOffice,The Office US,\n"
        "104,,,,exclude\n"
        "999,Pinned Classic,#Classic,,pin\n"
    )
    with FakeTMDB() as tmdb:
        names = {101: "Grey's Anatomy", 102: "The Office", 103: "Dark", 104: "Excluded", 105: "Dark"}
        names.update({100 + i: f"Popular {i}" for i in range(6, 46)})
        for show_id, name in names.items():
            tmdb.shows[show_id] = tmdb_show(show_id, name)
        tmdb.shows[105]["first_air_date"] = "2017-12-01"
        tmdb.popular = sorted(names)
        env["TRENDING_TV_TMDB_API_URL"] = tmdb.url
        env["TRENDING_TV_SHOW_OVERRIDES"] = str(overrides)
        env["TRENDING_TV_TRACKED_SHOWS"] = str(tmp_path / "lake" / "config" / "tracked_shows.csv")
        result = run_cli(env, "refresh-shows", "--top", "25")
        pages = sorted(int(q["page"][0]) for p, q in tmdb.requests if p == "/3/tv/popular")
    assert result.returncode == 0, result.stderr
    shows = parse_tracked_shows((tmp_path / "lake" / "config" / "tracked_shows.csv").read_text())
    by_id = shows.by_id()
    assert len(shows) == 26 and 104 not in by_id and by_id[999].name == "Pinned Classic"
    assert by_id[101].hashtags == ("#GreysAnatomy",)
    assert by_id[102].hashtags == ("#OfficeUS", "#TheOffice") and by_id[102].aliases == ("The Office US",)
    assert by_id[103].hashtags == ("#Dark",) and by_id[105].hashtags == ("#Dark2017",)
    assert pages == [1, 2]


def test_merge_and_derivation_rules():
    assert derive_hashtag("Marvel's Agents of S.H.I.E.L.D.") == "#MarvelsAgentsofSHIELD"
    assert derive_hashtag("사랑의 불시착") == "#사랑의불시착"
    assert derive_hashtag("!!!") == ""
    merged = merge_shows(
        [Candidate(1, "Dark"), Candidate(2, "Dark"), Candidate(3, "!!!"), Candidate(1, "Dark")],
        {9: Override(9, "Pinned", ("#Dark",), (), "pin")},
        top_n=10,
    )
    # the overridden #Dark of the pinned show is reserved first; the derived duplicates are skipped
    assert [s.id for s in merged.shows] == [9]
    assert len(merged.warnings) == 3


def test_a_missing_tracked_list_is_a_clear_config_error(env, tmp_path):
    (tmp_path / "tracked_shows.csv").unlink()
    result = run_cli(env, "fetch-tmdb")
    assert result.returncode == 2 and "run `ingest-host refresh-shows`" in result.stderr


def _stats(env, day: str = "2024-03-05") -> dict:
    y, m, d = day.split("-")
    return json.loads(
        Lake.from_url(env["TRENDING_TV_LAKE"]).read_text(f"ingest_meta/tmdb_raw/{y}/{m}/{d}/{day}.json")
    )


def test_a_rerun_during_an_outage_never_makes_the_day_worse(env, tmp_path):
    """Complete day, then reruns of the same day: a partial TMDB outage merges (this run's bodies win,
    failed shows keep their earlier body), a total outage keeps the file byte for byte, a healthy
    rerun replaces it. Each outcome is in the output and the stats."""
    (tmp_path / "tracked_shows.csv").write_text(SHOWS)
    key = "tmdb_raw/2024/03/05/2024-03-05.json"
    lake_file = tmp_path / "lake" / key
    down = (503, {"success": False, "status_code": 46, "status_message": "maintenance"})
    with FakeTMDB() as tmdb:
        for i in range(1, 11):
            tmdb.shows[i] = tmdb_show(i, f"Show {i}")
        env["TRENDING_TV_TMDB_API_URL"] = tmdb.url
        first = run_cli(env, "fetch-tmdb", "--date", "2024-03-05")
        assert first.returncode == 0, first.stderr
        assert "10/10 shows (100.0%)" in first.stdout and "new day file" in first.stdout
        complete = lake_file.read_bytes()

        tmdb.shows[1]["popularity"] = 99.5  # a newer body for a show that still answers
        for i in range(3, 11):
            tmdb.scripts[i] = [down]
        partial = run_cli(env, "fetch-tmdb", "--date", "2024-03-05")
        assert partial.returncode == 0, partial.stderr
        assert "10/10 shows (100.0%); this run fetched 2 (20.0%)" in partial.stdout
        assert "merged with the day's earlier file (10 shows): kept 8 earlier body(ies)" in partial.stdout
        merged = [json.loads(line) for line in _lake_lines(env, key)]
        assert [s["id"] for s in merged] == list(range(1, 11))
        assert merged[0]["popularity"] == 99.5 and merged[2]["popularity"] == 66.068
        stats = _stats(env)
        assert stats["outcome"] == "merged" and stats["coverage"] == 1.0 and stats["coverage_this_run"] == 0.2
        assert stats["kept_from_previous"] == list(range(3, 11))
        assert sorted(map(int, stats["failed"])) == list(range(3, 11))
        after_merge = lake_file.read_bytes()

        for i in range(1, 11):
            tmdb.scripts[i] = [down]
        total = run_cli(env, "fetch-tmdb", "--date", "2024-03-05")
        assert total.returncode == 0, total.stderr
        assert "this run fetched 0 (0.0%)" in total.stdout and "kept the day's earlier file" in total.stdout
        assert lake_file.read_bytes() == after_merge and _stats(env)["outcome"] == "kept"

        tmdb.scripts.clear()
        healthy = run_cli(env, "fetch-tmdb", "--date", "2024-03-05")
        assert healthy.returncode == 0 and "replaced the day's earlier file" in healthy.stdout
        assert lake_file.read_bytes() != complete  # show 1's newer body
        assert _stats(env)["outcome"] == "replaced" and _stats(env)["kept_from_previous"] == []


def test_deeply_nested_bodies_are_skipped_and_counted_and_error_text_is_scrubbed(env, tmp_path):
    (tmp_path / "tracked_shows.csv").write_text(SHOWS)
    too_deep_for_python = b'{"id": 4, "name": "Show 4", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    deep = tmdb_show(5, "Show 5")
    nested: list = []
    deep["x"] = nested
    for _ in range(100):  # parses, but far deeper than a TMDB body
        nested.append([])
        nested = nested[0]
    with FakeTMDB() as tmdb:
        for i in range(1, 11):
            tmdb.shows[i] = tmdb_show(i, f"Show {i}")
        tmdb.scripts[4] = [(200, too_deep_for_python)]
        tmdb.scripts[5] = [(200, json.dumps(deep).encode())]
        # an error body that echoes the request, key included
        tmdb.scripts[6] = [
            (400, {"success": False, "status_code": 22, "status_message": f"bad api_key {TMDB_KEY}"})
        ]
        env["TRENDING_TV_TMDB_API_URL"] = tmdb.url
        env["TRENDING_TV_TMDB_MIN_COVERAGE"] = "0.7"
        result = run_cli(env, "fetch-tmdb", "--date", "2024-03-05")
        hits = tmdb.hits(4), tmdb.hits(5)
    assert result.returncode == 0, result.stderr
    assert "RecursionError" not in result.stderr + result.stdout
    assert "7/10 shows (70.0%)" in result.stdout and "1 failed, 2 skipped" in result.stdout
    assert hits == (1, 1)  # not retried: the same body would come back
    assert [json.loads(line)["id"] for line in _lake_lines(env, "tmdb_raw/2024/03/05/2024-03-05.json")] == [
        1,
        2,
        3,
        7,
        8,
        9,
        10,
    ]
    stats = _stats(env)
    assert sorted(stats["skipped"]) == ["4", "5"] and "nested" in stats["skipped"]["5"]
    assert "***" in stats["failed"]["6"]
    meta = b"".join(p.read_bytes() for p in (tmp_path / "lake" / "ingest_meta").rglob("*") if p.is_file())
    assert TMDB_KEY.encode() not in meta
