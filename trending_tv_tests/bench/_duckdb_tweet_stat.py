"""tweet_stat of one day with DuckDB, written for the benchmark from the counting rules of
docs/design.md (not from trending_tv's code): the peer our Spark job is compared with, and a check
of it (the tables must be equal row for row).

Rule 1: the same files (the day's hours and its two neighbours' boundary hours), posts dated on the
day. Rule 2: a post is a line that is exactly one valid JSON object (DuckDB's `json_valid` refuses
trailing content) with a v2 `data` object, or a v1.1 object with `id_str`/`id` and `created_at` or
`text`, whose id is not blank and whose `created_at` parses. Rule 3: first delivery by (file in key
order, line). Rule 4: retweets' original content, full text, the hashtags of the object the text
came from. Rule 5: normalisation (a Python function: DuckDB has no HTML unescape, NFKC or casefold).
Rule 6: hashtags equal; names and aliases as whole phrases (RE2: letters, digits and `_` of any
script around them are refused)."""

from __future__ import annotations

import gzip
import html
import json
import time
import unicodedata
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

_QUOTES = str.maketrans({"‘": "'", "’": "'", "‚": "'", "‛": "'", "“": '"', "”": '"', "„": '"', "‟": '"'})
_RE2_SPECIAL = set("\\.^$|?*+()[]{}")

_S = "VARCHAR"
_V2_ENTITIES = {"hashtags": [{"tag": _S}]}
_V2 = {
    "id": _S,
    "text": _S,
    "created_at": _S,
    "entities": _V2_ENTITIES,
    "note_tweet": {"text": _S, "entities": _V2_ENTITIES},
    "note_post": {"text": _S, "entities": _V2_ENTITIES},
    "referenced_tweets": [{"type": _S, "id": _S}],
    "referenced_posts": [{"type": _S, "id": _S}],
}
_V1_ENTITIES = {"hashtags": [{"text": _S}]}
_V1 = {
    "id_str": _S,
    "id": _S,
    "created_at": _S,
    "text": _S,
    "full_text": _S,
    "entities": _V1_ENTITIES,
    "extended_tweet": {"full_text": _S, "entities": _V1_ENTITIES},
}
STRUCTURE = json.dumps(
    {"data": _V2, "includes": {"tweets": [_V2], "posts": [_V2]}, **_V1, "retweeted_status": _V1}
)


def normalize(value: str) -> str:
    value = unicodedata.normalize("NFKC", html.unescape(value)).casefold().translate(_QUOTES)
    return " ".join(value.split())


def normalize_tag(value: str) -> str:
    value = normalize(value)
    return (value[1:] if value.startswith("#") else value).strip()


def _phrase_pattern(phrase: str) -> str:
    escaped = "".join("\\" + c if c in _RE2_SPECIAL else c for c in phrase)
    return r"(^|[^\p{L}\p{N}_])" + escaped + r"($|[^\p{L}\p{N}_])"


def read_lines(paths: list[str]) -> pa.Table:
    """(file, line, text) of every line; lines end at \\n, \\r\\n or \\r, as Hadoop's line reader."""
    files, numbers, texts = [], [], []
    for index, path in enumerate(sorted(paths)):
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rb") as f:
            lines = f.read().splitlines()
        files += [index] * len(lines)
        numbers += range(len(lines))
        texts += [b.decode("utf-8", "replace") for b in lines]
    return pa.table({"file": files, "line": numbers, "text": texts})


def tweet_stat_duckdb(paths: list[str], lake: Path, day: date) -> tuple[list[tuple], dict]:
    """((id, date, hashtag_count, text_count, tweet_count) rows sorted, timings)."""
    started = time.perf_counter()
    lines = read_lines([p.removeprefix("file://") for p in paths])
    read_s = time.perf_counter() - started
    con = duckdb.connect(config={"threads": 2})
    con.create_function(
        "norm",
        lambda a: pa.array([normalize(v) if v is not None else None for v in a.to_pylist()]),
        ["VARCHAR"],
        "VARCHAR",
        type="arrow",
    )
    con.create_function(
        "norm_tag",
        lambda a: pa.array([normalize_tag(v) if v is not None else None for v in a.to_pylist()]),
        ["VARCHAR"],
        "VARCHAR",
        type="arrow",
    )
    con.register("raw_lines", lines)
    tvshows = (
        lake / "analytics" / "tvshows" / f"year={day:%Y}" / f"month={day:%m}" / f"day={day:%d}" / "*.parquet"
    )
    shows = con.sql(f"SELECT id, name, aliases, hashtags FROM read_parquet('{tvshows}')").fetchall()
    phrases = sorted(
        {(sid, normalize(p)) for sid, name, aliases, _ in shows for p in [name, *(aliases or [])]}
    )
    tags = sorted({(sid, normalize_tag(h)) for sid, _, _, hashtags in shows for h in hashtags or []})
    con.register(
        "phrases",
        pa.table(
            {
                "id": [s for s, p in phrases if p],
                "phrase": [p for _, p in phrases if p],
                "pattern": [_phrase_pattern(p) for _, p in phrases if p],
            }
        ),
    )
    con.register("show_tags", pa.table({"id": [s for s, t in tags if t], "tag": [t for _, t in tags if t]}))
    con.register("shows", pa.table({"id": [s[0] for s in shows]}))
    sql = f"""
    WITH parsed AS (
      SELECT file, line, json_transform(text, '{STRUCTURE}') AS j
      FROM raw_lines WHERE json_valid(text) AND json_type(text) = 'OBJECT'
    ), fam AS (
      SELECT file, line, j,
        j.data IS NOT NULL AS v2,
        j.data IS NULL AND coalesce(j.id_str, j.id) IS NOT NULL
          AND (j.created_at IS NOT NULL OR j.text IS NOT NULL) AS v1
      FROM parsed
    ), v2 AS (
      SELECT file, line, j.data.id AS post_id,
        coalesce(try_strptime(regexp_replace(j.data.created_at, 'Z$', '+0000'), '%Y-%m-%dT%H:%M:%S.%g%z'),
                 try_strptime(regexp_replace(j.data.created_at, 'Z$', '+0000'), '%Y-%m-%dT%H:%M:%S%z')) AS ts,
        coalesce(list_filter(list_concat(coalesce(j.includes.tweets, []), coalesce(j.includes.posts, [])),
          lambda x: x.id = list_filter(coalesce(j.data.referenced_tweets, j.data.referenced_posts, []),
                                  lambda r: r.type = 'retweeted')[1].id)[1], j.data) AS c
      FROM fam WHERE v2
    ), v2c AS (
      SELECT file, line, post_id, ts,
        coalesce(c.note_tweet, c.note_post) AS note, c
      FROM v2
    ), v2p AS (
      SELECT file, line, post_id, ts,
        CASE WHEN note.text IS NOT NULL THEN note.text ELSE c.text END AS text,
        CASE WHEN note.text IS NOT NULL AND len(coalesce(note.entities.hashtags, [])) > 0
             THEN list_transform(note.entities.hashtags, lambda h: h.tag)
             ELSE list_transform(coalesce(c.entities.hashtags, []), lambda h: h.tag) END AS tags
      FROM v2c
    ), v1 AS (
      SELECT file, line, coalesce(j.id_str, j.id) AS post_id,
        try_strptime(substr(j.created_at, 5), '%b %d %H:%M:%S %z %Y') AS ts,
        CASE WHEN j.retweeted_status IS NOT NULL THEN j.retweeted_status
             ELSE {{'id_str': j.id_str, 'id': j.id, 'created_at': j.created_at, 'text': j.text,
                    'full_text': j.full_text, 'entities': j.entities,
                    'extended_tweet': j.extended_tweet}} END AS c
      FROM fam WHERE v1
    ), v1p AS (
      SELECT file, line, post_id, ts,
        coalesce(c.extended_tweet.full_text, c.full_text, c.text) AS text,
        CASE WHEN c.extended_tweet.full_text IS NOT NULL
               AND len(coalesce(c.extended_tweet.entities.hashtags, [])) > 0
             THEN list_transform(c.extended_tweet.entities.hashtags, lambda h: h.text)
             ELSE list_transform(coalesce(c.entities.hashtags, []), lambda h: h.text) END AS tags
      FROM v1
    ), posts AS (
      SELECT * FROM v2p UNION ALL SELECT * FROM v1p
    ), usable AS (
      SELECT * FROM posts WHERE trim(post_id) <> '' AND ts IS NOT NULL
    ), firsts AS (
      SELECT post_id, DATE '1970-01-01' + CAST(floor(epoch(ts) / 86400) AS INTEGER) AS date, text, tags FROM (
        SELECT *, row_number() OVER (PARTITION BY post_id ORDER BY file, line) AS n FROM usable) WHERE n = 1
    ), today AS (
      SELECT post_id, norm(text) AS ntext, tags FROM firsts WHERE date = DATE '{day}'
    ), by_tag AS (
      SELECT DISTINCT s.id, t.post_id
      FROM (SELECT post_id, norm_tag(tag) AS tag FROM (SELECT post_id, unnest(tags) AS tag FROM today)) t
      JOIN show_tags s ON s.tag = t.tag
    ), by_text AS (
      SELECT DISTINCT p.id, t.post_id FROM today t JOIN phrases p
        ON contains(t.ntext, p.phrase) AND regexp_matches(t.ntext, p.pattern)
    )
    SELECT s.id, DATE '{day}' AS date,
      (SELECT count(*) FROM by_tag b WHERE b.id = s.id) AS hashtag_count,
      (SELECT count(*) FROM by_text b WHERE b.id = s.id) AS text_count,
      (SELECT count(*) FROM (SELECT post_id FROM by_tag b WHERE b.id = s.id
                             UNION SELECT post_id FROM by_text b WHERE b.id = s.id)) AS tweet_count
    FROM shows s ORDER BY s.id
    """
    rows = [tuple(r) for r in con.sql(sql).fetchall()]
    con.close()
    return sorted(rows), {"read_lines_s": read_s, "sql_s": time.perf_counter() - started - read_s}
