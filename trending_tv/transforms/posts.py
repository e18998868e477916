"""Raw stream lines -> one row per line with its kind and, for posts, the counted content
(docs/design.md, counting rules 2-4). Explicit schemas only: no inference, so a day without some
nested field parses the same as any other (an inferred schema changes with the day's data).

Kinds of line:
- `keepalive`: blank or whitespace only;
- `corrupt`: not one valid JSON value;
- `post`: an X API v2 message with a `data` object, or a v1.1 status (an object with `created_at`
  and `id_str`/`id`);
- `invalid_post`: looks like a post but has no usable id or parseable `created_at`;
- notices: `limit`, `delete`, `errors` (v2 errors without `data`), and `other` (any other valid JSON,
  including JSON that is not an object or whose fields have unexpected types).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import unquote, urlparse

import pyarrow.fs as pafs
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from trending_tv.transforms.post_decoder import DECIDED_COLUMNS, PostDecoder

KINDS = ("post", "invalid_post", "keepalive", "corrupt", "limit", "delete", "errors", "other")
NOTICE_KINDS = ("limit", "delete", "errors", "other")
# Where a line was read: its deliveries sort in file order, then line order, by these (rule 3).
ORDER_COLUMNS = ("source_file", "block_start", "row_in_partition")

_S = T.StringType()
# A keep-alive line holds only these (ASCII whitespace, as Python's bytes.isspace).
WHITESPACE = " \t\n\r\x0b\x0c"


def _struct(**fields: T.DataType) -> T.StructType:
    return T.StructType([T.StructField(name, dtype) for name, dtype in fields.items()])


_V2_HASHTAGS = T.ArrayType(_struct(tag=_S))
_V2_ENTITIES = _struct(hashtags=_V2_HASHTAGS)
_V2_NOTE = _struct(text=_S, entities=_V2_ENTITIES)
_V2_REFERENCES = T.ArrayType(_struct(type=_S, id=_S))
# X renamed some schema fields in its 2026 OpenAPI (note_post, referenced_posts, includes.posts);
# the wire format has not been seen to change, but both spellings are accepted.
V2_POST = _struct(
    id=_S,
    text=_S,
    created_at=_S,
    entities=_V2_ENTITIES,
    note_tweet=_V2_NOTE,
    note_post=_V2_NOTE,
    referenced_tweets=_V2_REFERENCES,
    referenced_posts=_V2_REFERENCES,
)
_V1_ENTITIES = _struct(hashtags=T.ArrayType(_struct(text=_S)))
_V1_EXTENDED = _struct(full_text=_S, entities=_V1_ENTITIES)
_V1_CONTENT_FIELDS = dict(
    id_str=_S, id=_S, created_at=_S, text=_S, full_text=_S, extended_tweet=_V1_EXTENDED, entities=_V1_ENTITIES
)
V1_STATUS = _struct(**_V1_CONTENT_FIELDS)

RAW_LINE = _struct(
    # v2 stream message
    data=V2_POST,
    includes=_struct(tweets=T.ArrayType(V2_POST), posts=T.ArrayType(V2_POST)),
    errors=_S,  # kept as JSON text: only its presence matters
    # v1.1 status object
    **_V1_CONTENT_FIELDS,
    retweeted_status=V1_STATUS,
    # v1.1 notices, kept as JSON text
    limit=_S,
    delete=_S,
    _corrupt_record=_S,
)
_JSON_OPTIONS = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": "_corrupt_record"}

# Timestamps: v2 ISO 8601 with or without milliseconds; v1.1 "Wed Oct 10 20:19:24 +0000 2018"
# (Spark cannot parse the weekday name, so it is cut off first).
_V2_TIME_FORMAT = "yyyy-MM-dd'T'HH:mm:ss[.SSS]X"
_V1_TIME_FORMAT = "MMM dd HH:mm:ss Z yyyy"


def read_raw_lines(spark: SparkSession, paths: list[str]) -> DataFrame:
    """Read raw hourly files (JSON Lines, optionally .gz) as text: one row per line with the file
    it came from and an ordinal that follows file order, then line order."""
    if not paths:
        return spark.createDataFrame([], "value string, source_file string, ordinal long")
    lines = spark.read.text(sorted(paths))
    return lines.select(
        "value",
        F.col("_metadata.file_path").alias("source_file"),
        F.col("_metadata.file_block_start").alias("block_start"),
        F.monotonically_increasing_id().alias("row_in_partition"),
    )


def local_path(uri: str) -> str | None:
    """The file system path of a raw file given as a path or a file: URI; None for an S3 URI."""
    if uri.startswith(("s3://", "s3a://")):
        return None
    return unquote(urlparse(uri).path) if uri.startswith("file:") else uri


_REGION_SETTINGS = ("AWS_REGION", "AWS_DEFAULT_REGION", "TRENDING_TV_EMR_REGION")


def raw_file_lines(uri: str, chunk_bytes: int = 1 << 20, batch_lines: int = 2000) -> Iterator[list[bytes]]:
    """The lines of one raw file, in order, `batch_lines` or so at a time, as Spark's text reader
    splits them (at `\n`, `\r\n` or a lone `\r`; no empty line after a final separator; `.gz`
    decompressed). `uri` is a local path, a file: URI, or an s3:// / s3a:// URI (read with pyarrow's
    S3 client, which takes its credentials and endpoint from the usual AWS settings). The file is read
    `chunk_bytes` at a time: 1 MB reads cost a third less than 8 MB ones (fewer fresh pages)."""
    path = local_path(uri)
    if path is not None:
        filesystem = pafs.LocalFileSystem()
    else:
        # With the region known, pyarrow does not ask S3 for the bucket's (a HeadBucket, which the EMR
        # nodes' prefix-scoped ListBucket permission does not allow). The EMR deployment gives every
        # node its region as TRENDING_TV_EMR_REGION (resources/emr/settings.py), not as AWS_* (no AWS_
        # setting is exported to the cluster).
        region = next((os.environ[n] for n in _REGION_SETTINGS if os.environ.get(n)), None)
        s3_uri = "s3://" + uri.split("://", 1)[1] + (f"?region={region}" if region else "")
        filesystem, path = pafs.FileSystem.from_uri(s3_uri)
    with filesystem.open_input_stream(path, compression="detect") as stream:
        batch: list[bytes] = []
        carry, after_cr = b"", False
        while chunk := stream.read(chunk_bytes):
            if after_cr and chunk.startswith(b"\n"):  # the second half of a `\r\n` split across chunks
                chunk, after_cr = chunk[1:], False
                if not chunk:
                    continue
            lines = chunk.splitlines()
            if carry:  # the line the last chunk ended inside
                lines[0] = carry + lines[0]
            after_cr = chunk.endswith(b"\r")
            carry = b"" if chunk.endswith((b"\n", b"\r")) else lines.pop()
            batch += lines
            if len(batch) >= batch_lines:
                yield batch
                batch = []
        if carry:
            batch.append(carry)
        if batch:
            yield batch


def _hashtag_tags(array: Column, field: str) -> Column:
    return F.transform(F.coalesce(array, F.array()), lambda h: h[field])


def _first(array: Column, predicate) -> Column:
    return F.get(F.filter(array, predicate), 0)


def _parse_time(value: Column, *, v1: bool) -> Column:
    if v1:
        return F.try_to_timestamp(F.substring(value, 5, 100), F.lit(_V1_TIME_FORMAT))
    return F.try_to_timestamp(value, F.lit(_V2_TIME_FORMAT))


def _v2_content(j: Column) -> tuple[Column, Column, Column, Column]:
    """(post id, created_at, text, hashtags) of a v2 message (rule 4)."""
    data = j["data"]
    references = F.coalesce(data["referenced_tweets"], data["referenced_posts"], F.array())
    retweeted_id = _first(references, lambda r: r["type"] == "retweeted")["id"]
    includes = F.concat(
        F.coalesce(j["includes"]["tweets"], F.array()), F.coalesce(j["includes"]["posts"], F.array())
    )
    original = _first(includes, lambda p: p["id"] == retweeted_id)
    content = F.when(original.isNotNull(), original).otherwise(data)
    note = F.coalesce(content["note_tweet"], content["note_post"])
    own_tags = _hashtag_tags(content["entities"]["hashtags"], "tag")
    note_tags = _hashtag_tags(note["entities"]["hashtags"], "tag")
    has_note = note["text"].isNotNull()
    text = F.when(has_note, note["text"]).otherwise(content["text"])
    tags = F.when(has_note & (F.size(note_tags) > 0), note_tags).otherwise(own_tags)
    return data["id"], _parse_time(data["created_at"], v1=False), text, tags


def _v1_content(j: Column) -> tuple[Column, Column, Column, Column]:
    """(post id, created_at, text, hashtags) of a v1.1 status (rule 4)."""
    own = F.struct(*[j[name].alias(name) for name in _V1_CONTENT_FIELDS])
    content = F.when(j["retweeted_status"].isNotNull(), j["retweeted_status"]).otherwise(own)
    extended = content["extended_tweet"]
    own_tags = _hashtag_tags(content["entities"]["hashtags"], "text")
    extended_tags = _hashtag_tags(extended["entities"]["hashtags"], "text")
    has_extended = extended["full_text"].isNotNull()
    text = F.coalesce(extended["full_text"], content["full_text"], content["text"])
    tags = F.when(has_extended & (F.size(extended_tags) > 0), extended_tags).otherwise(own_tags)
    # No fallback to the stream's `timestamp_ms`: a post without a usable created_at is skipped
    # and counted (rule 2), whatever else it carries.
    return F.coalesce(j["id_str"], j["id"]), _parse_time(j["created_at"], v1=True), text, tags


def _is_one_json_value(value: Column) -> Column:
    """True when the line is exactly one valid JSON value of any type (see _single_value_parser: the
    line as the first item of an array of JSON texts, followed by the run's marker)."""
    token = uuid.uuid4().hex
    marker = f'{{"end_{token}":1}}'
    wrapped = F.from_json(
        F.concat(F.lit('{"v":['), value, F.lit(f",{marker}]}}")),
        "v array<string>, _c string",
        {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": "_c"},
    )
    items = wrapped["v"]
    # F.get: a line such as `],[` closes the array early, and indexing past its end fails under ANSI.
    return F.coalesce(
        wrapped["_c"].isNull() & (F.size(items) == 2) & (F.get(items, 1) == marker), F.lit(False)
    )


def _single_value_parser() -> tuple[Column, tuple[str, str]]:
    """One parse per line that also tells whether the line is exactly one JSON value.

    The line is parsed as the first element of an array whose second element, a marker object, is
    written after it: `{"<k>":[<line>,{"<m>":1}]}` with keys `k` and `m` drawn at random for the
    run. The marker is read back as the array's second element only when the line is exactly one
    value: anything after the first value (a second object, a stray brace, text) either breaks the
    wrapper or moves the marker, and a line cannot name the keys it does not know. One JSON parse per
    line instead of a parse plus a regular expression over every line.
    """
    token = uuid.uuid4().hex
    key, marker = f"line_{token}", f"end_{token}"
    fields = [f for f in RAW_LINE.fields if f.name != "_corrupt_record"]
    element = T.StructType([*fields, T.StructField(marker, T.LongType())])
    schema = T.StructType([T.StructField(key, T.ArrayType(element)), T.StructField("_wrapper_corrupt", _S)])
    wrapped = F.concat(F.lit(f'{{"{key}":['), F.col("value"), F.lit(f',{{"{marker}":1}}]}}'))
    options = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": "_wrapper_corrupt"}
    return F.from_json(wrapped, schema, options), (key, marker)


_POST_DECODER = PostDecoder(RAW_LINE)


def _decide_posts_in_python(lines: DataFrame) -> DataFrame:
    """The lines with DECIDED_COLUMNS added by post_decoder; `value` is kept only on the lines it
    leaves to Spark (null on decided posts, so Spark's parse below skips them)."""
    fields = [T.StructField(f.name, T.BinaryType()) if f.name == "value" else f for f in lines.schema.fields]
    decided = lines.mapInArrow(_POST_DECODER.decide_batches, T.StructType(fields + DECIDED_COLUMNS.fields))
    return decided.withColumn("value", F.col("value").cast("string"))


def parse_lines(lines: DataFrame, *, decide_posts_in_python: bool = True) -> DataFrame:
    """Classify each raw line and extract the counted content of posts.

    Well-formed posts are decided in Python first (trending_tv/transforms/post_decoder.py; off with
    `decide_posts_in_python=False`, which the equivalence test compares against); Spark parses the rest.

    Returns columns: kind, post_id, created_at (timestamp), date (UTC date, independent of the
    session time zone), text, hashtags (array<string>), source_file, block_start, row_in_partition.

    Built in stages (parse, then the two families' fields, then the kind) so that each expression is
    evaluated once per line: Spark keeps a projection apart when its expressions are used more than
    once by the next one.
    """
    order = list(ORDER_COLUMNS)
    decided_columns = DECIDED_COLUMNS.fieldNames() if decide_posts_in_python else []
    if decide_posts_in_python:
        lines = _decide_posts_in_python(lines)
    carried = order + decided_columns  # through Spark's stages untouched
    wrapper, (key, marker) = _single_value_parser()
    parsed = lines.select("value", *carried, wrapper.alias("w"))
    w = F.col("w")
    items = w[key]
    staged = parsed.select(
        "value",
        *carried,
        w["_wrapper_corrupt"].isNotNull().alias("not_parsed"),
        # Parsed, and the marker is the array's second and last element: the line is one JSON value.
        # F.get, not items[i]: a line such as `],"x":[1` closes the array early (no element to index).
        ((F.size(items) == 2) & F.coalesce(F.get(items, 1)[marker] == 1, F.lit(False))).alias("single"),
        F.get(items, 0).alias("j"),
    )
    j = F.col("j")
    is_v2 = j["data"].isNotNull()
    is_v1 = (
        ~is_v2
        & F.coalesce(j["id_str"], j["id"]).isNotNull()
        & (j["created_at"].isNotNull() | j["text"].isNotNull())
    )
    v2_id, v2_time, v2_text, v2_tags = _v2_content(j)
    v1_id, v1_time, v1_text, v1_tags = _v1_content(j)
    family = F.when(is_v2, "v2").when(is_v1, "v1")
    content = staged.select(
        *carried,
        "value",
        "not_parsed",
        "single",
        family.alias("family"),
        F.when(is_v2, v2_id).when(is_v1, v1_id).alias("post_id"),
        F.when(is_v2, v2_time).when(is_v1, v1_time).alias("created_at"),
        F.when(is_v2, v2_text).when(is_v1, v1_text).alias("text"),
        F.when(is_v2, v2_tags).when(is_v1, v1_tags).alias("hashtags"),
        j["limit"].isNotNull().alias("is_limit"),
        j["delete"].isNotNull().alias("is_delete"),
        j["errors"].isNotNull().alias("is_errors"),
    )
    usable = F.coalesce(F.trim("post_id") != "", F.lit(False)) & F.col("created_at").isNotNull()
    # Trimming is tested only on lines that did not parse: a blank line never parses (the wrapper
    # would hold an empty element), and trimming every line cost a third of the job's CPU.
    blank = F.btrim("value", F.lit(WHITESPACE)) == ""
    kind = (
        # Not parsed: blank, not JSON, or valid JSON that is not an object or has fields of unexpected types.
        F.when(
            F.col("not_parsed"),
            F.when(blank, "keepalive").when(_is_one_json_value(F.col("value")), "other").otherwise("corrupt"),
        )
        # Parsed as a whole but the line was more than one value (e.g. two objects glued together).
        .when(~F.col("single"), "corrupt")
        .when(F.col("family").isNotNull(), F.when(usable, "post").otherwise("invalid_post"))
        .when(F.col("is_limit"), "limit")
        .when(F.col("is_delete"), "delete")
        .when(F.col("is_errors"), "errors")
        .otherwise("other")
    )
    classified = content.select("*", kind.alias("kind"))
    if decide_posts_in_python:
        decided = F.col("decided_post_id").isNotNull()
        classified = classified.select(
            *order,
            F.when(decided, F.lit("post")).otherwise(F.col("kind")).alias("kind"),
            *[
                F.when(decided, F.col(f"decided_{c}")).otherwise(F.col(c)).alias(c)
                for c in ("post_id", "created_at", "text", "hashtags")
            ],
        )
    is_post = F.col("kind") == "post"
    return classified.select(
        "kind",
        F.when(is_post, F.col("post_id")).alias("post_id"),
        F.when(is_post, F.col("created_at")).alias("created_at"),
        F.when(
            is_post, F.date_from_unix_date(F.floor(F.unix_seconds("created_at") / 86400).cast("int"))
        ).alias("date"),
        F.when(is_post, F.col("text")).alias("text"),
        F.when(is_post, F.col("hashtags")).alias("hashtags"),
        *order,
    )
