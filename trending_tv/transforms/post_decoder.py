"""Rules 2-4 in Python: each raw line's kind, and a post's content, decided before Spark parses
anything (docs/design.md, "Counting rules for tweet_stat" and "How tweet_stat runs").

Spark's JSON parse of every raw line (`posts.parse_lines`) was most of tweet_stat's CPU at full
volume. msgspec decodes only the fields the rules read, into typed structs built from the same Spark
schema (`posts.RAW_LINE`), at over 1 GB/s per core. A line gets a kind here only when the answer is
certain to be Spark's:

- `post`: it decodes strictly (one JSON object, valid UTF-8, nothing after it, every field of the
  schema that it carries of the schema's type: Spark would reject the whole line otherwise), it is a
  post by rule 2 with a non-blank id, and its `created_at` is in its family's canonical form
  (`2020-11-27T10:00:00.000Z`, `Fri Nov 27 10:00:00 +0000 2020`), so the UTC date needs no parser's
  leniency;
- `invalid_post`: it decodes strictly, is a post by rule 2, and has no id or no time at all;
- `limit`, `delete`, `errors`, `other`: it decodes strictly and is not a post;
- `keepalive`: ASCII whitespace only;
- `corrupt`: it cannot be one JSON value even for Spark's more lenient parser (it starts with a byte
  no JSON value starts with, ends inside a value, or has more after the value, or lacks a `,` or `:`
  where no leniency applies).

Every other line (an id given as a number Spark would print differently, an odd timestamp, single
quotes, NaN, a line near the parser's limits, invalid UTF-8) is left to `posts.parse_lines`.
`trending_tv_tests/test_post_decoder.py` checks both agree line by line on awkward input.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

import msgspec
import pyarrow as pa
from pyspark.sql import types as T

# Spark reads a JSON number in a string field as the number's text; a positive integer's text is
# Python's str() of it, so ids sent as numbers (v1.1 statuses carry both `id` and `id_str`) can be
# decided here. Any other number in a string field leaves the line to Spark.
_NUMBER_AS_TEXT_FIELDS = frozenset({"id"})
# The notices' fields, which Spark keeps as JSON text whatever their value: only whether they are
# null matters (a line's kind), so they are read as raw JSON of any type.
_ANY_JSON_FIELDS = frozenset({"limit", "delete", "errors"})
_RAW_NULL = b"null"


def _msgspec_type(dtype: T.DataType, name: str, field_name: str):
    if isinstance(dtype, T.StructType):
        return _struct_class(dtype, name) | None
    if isinstance(dtype, T.ArrayType):
        return list[_msgspec_type(dtype.elementType, name + "Item", field_name)] | None
    if isinstance(dtype, T.StringType):
        return (str | int | None) if field_name in _NUMBER_AS_TEXT_FIELDS else (str | None)
    raise TypeError(f"no msgspec type for {dtype}")


def _struct_class(
    schema: T.StructType, name: str, any_json: frozenset[str] = frozenset()
) -> type[msgspec.Struct]:
    fields = [
        (f.name, msgspec.Raw, msgspec.Raw())
        if f.name in any_json
        else (f.name, _msgspec_type(f.dataType, name + f.name.title().replace("_", ""), f.name), None)
        for f in schema.fields
        if f.name != "_corrupt_record"
    ]
    return msgspec.defstruct(name, fields, forbid_unknown_fields=False)


def _present(raw: msgspec.Raw) -> bool:
    """A notice field Spark reads as non-null: given, and not JSON null."""
    return len(raw) > 0 and bytes(raw) != _RAW_NULL


_V2_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{3}))?Z")
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_V1_TIME = re.compile(r".{4}([A-Z][a-z]{2}) (\d{2}) (\d{2}):(\d{2}):(\d{2}) \+0000 (\d{4})", re.DOTALL)
# Years whose canonical timestamps every parser agrees on.
_YEARS = range(1971, 2200)


# Spark's JSON parser (Jackson) rejects a number of over 1,000 characters, a name of over 50,000, a
# string of over 20 million, and nesting deeper than 1,000 (the line sits two levels deep in Spark's
# wrapper); msgspec skips such values in fields it does not read. Lines that could reach a limit are
# left to Spark: longer than 50,000 bytes, more than 900 opening brackets, or a run of 490 digits
# (a number of over 1,000 characters has one, fraction and exponent included).
_MAX_LINE_BYTES = 50_000
_MAX_OPENINGS = 900
_DIGIT_RUN = 490
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGIT_RUN = b"0" * _DIGIT_RUN
# Any 490 consecutive bytes hold five consecutive multiples of 98, so a line with a 490-digit run has five
# adjacent digits among its bytes 0, 98, 196...: that sample (1/98 of the line) rules out almost every
# line, and the full test (a copy of the line) runs only on the others.
_SAMPLES_IN_RUN = 5
_SAMPLE_STEP = _DIGIT_RUN // _SAMPLES_IN_RUN
_SAMPLED_RUN = re.compile(rb"[0-9]{%d}" % _SAMPLES_IN_RUN)


def _has_long_digit_run(raw: bytes) -> bool:
    if _SAMPLED_RUN.search(raw[::_SAMPLE_STEP]) is None:
        return False
    return _LONG_DIGIT_RUN in raw.translate(_DIGITS_AS_ZERO)


def _within_parser_limits(raw: bytes, count_openings: bool = True) -> bool:
    return (
        len(raw) <= _MAX_LINE_BYTES
        and (not count_openings or raw.count(b"{") + raw.count(b"[") <= _MAX_OPENINGS)
        and not _has_long_digit_run(raw)
    )


# Counting brackets reads every line twice more. msgspec itself refuses to nest deeper than Python's
# recursion limit allows from where it is called (Py_EnterRecursiveCall), so within classify_lines the
# limit is set just above the current depth, and a post nested _MAX_OPENINGS deep must be refused
# there: when it is (checked on every call, at the depth the lines are decoded), a decoded line is
# known to nest less deep than that and its brackets are not counted. Where the interpreter does not
# tie msgspec's depth to that limit, the probe decodes and the brackets are counted as before.
_DEPTH_PROBE = (
    b'{"data":{"id":"1","created_at":"2020-01-01T00:00:00Z"},"q":'
    + b"[" * _MAX_OPENINGS
    + b"]" * _MAX_OPENINGS
    + b"}"
)


def _stack_depth() -> int:
    frame, depth = sys._getframe(1), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    return depth


class _Undecided(Exception):
    """The line is left to Spark."""


# A keep-alive line holds only these (ASCII whitespace, as in posts.WHITESPACE).
_BLANK = b" \t\n\r\x0b\x0c"
# JSON's own whitespace, which both parsers skip before a value.
_JSON_SPACE = b" \t\n\r"
# The bytes a JSON value can start with in Spark's parser (Jackson with Spark's options: single quotes,
# NaN, Infinity and signed infinities allowed). A line starting with any other byte cannot be one value.
_VALUE_STARTS = frozenset(b"{[\"'-+0123456789tfnNI")
# Syntax errors msgspec reports where Spark's parser has no leniency either: the line ends inside a
# value, a complete value is followed by more, or a value or key is not followed by `,`, a closing
# bracket or `:` (Jackson's extensions only apply where a value or key starts). Such a line is corrupt
# for Spark too: wrapped in the parse's marker array it never parses as exactly one value.
_CORRUPT_SYNTAX = (
    "Input data was truncated",
    "JSON is malformed: trailing characters",
    "JSON is malformed: expected ',' or '}'",
    "JSON is malformed: expected ',' or ']'",
    "JSON is malformed: expected ':'",
)


def _text(value: str | int | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if value > 0:
        return str(value)
    raise _Undecided


def _timestamp(groups: tuple[str, ...], month: int | None = None) -> datetime:
    try:
        if month is None:
            year, mon, day, hour, minute, second, millis = groups
            stamp = datetime(int(year), int(mon), int(day), int(hour), int(minute), int(second), tzinfo=UTC)
            return stamp.replace(microsecond=int(millis) * 1000) if millis else stamp
        day, hour, minute, second, year = groups
        return datetime(int(year), month, int(day), int(hour), int(minute), int(second), tzinfo=UTC)
    except ValueError:  # 30 February, hour 24: Spark's answer is left to Spark
        raise _Undecided from None


def _v2_time(value: str | int | None) -> datetime:
    match = _V2_TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None or int(match[1]) not in _YEARS:
        raise _Undecided
    return _timestamp(match.groups())


def _v1_time(value: str | int | None) -> datetime:
    match = _V1_TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None or match[1] not in _MONTHS or int(match[6]) not in _YEARS:
        raise _Undecided
    return _timestamp(match.groups()[1:], _MONTHS[match[1]])


def _tags(entities, field: str) -> list[str | None]:
    hashtags = entities.hashtags if entities is not None else None
    return [None if h is None else _text(getattr(h, field)) for h in hashtags or ()]


def _first_where(items, field: str, value: str | None):
    if value is None:
        return None
    for item in items:
        if item is not None and _text(getattr(item, field)) == value:
            return item
    return None


def _v2_post(line) -> tuple[str | None, datetime, str | None, list[str | None]]:
    data = line.data
    references = next((r for r in (data.referenced_tweets, data.referenced_posts) if r is not None), [])
    retweeted = _first_where(references, "type", "retweeted")
    retweeted_id = _text(retweeted.id) if retweeted is not None else None
    includes = [*(line.includes.tweets or ()), *(line.includes.posts or ())] if line.includes else []
    original = _first_where(includes, "id", retweeted_id)
    content = original if original is not None else data
    note = content.note_tweet if content.note_tweet is not None else content.note_post
    own_tags = _tags(content.entities, "tag")
    if note is not None and note.text is not None:
        note_tags = _tags(note.entities, "tag")
        return _text(data.id), _v2_time(data.created_at), note.text, note_tags or own_tags
    return _text(data.id), _v2_time(data.created_at), content.text, own_tags


def _v1_post(line) -> tuple[str | None, datetime, str | None, list[str | None]]:
    content = line.retweeted_status if line.retweeted_status is not None else line
    extended = content.extended_tweet
    own_tags = _tags(content.entities, "text")
    full_text = extended.full_text if extended is not None else None
    text = next((t for t in (full_text, content.full_text, content.text) if t is not None), None)
    tags = (_tags(extended.entities, "text") or own_tags) if full_text is not None else own_tags
    post_id = _text(line.id_str) if line.id_str is not None else _text(line.id)
    return post_id, _v1_time(line.created_at), text, tags


class PostDecoder:
    """Decides the well-formed posts among raw lines, decoding them with `schema`'s fields only."""

    def __init__(self, schema: T.StructType):
        self.schema = schema
        self._decoder = msgspec.json.Decoder(_struct_class(schema, "RawLine", _ANY_JSON_FIELDS))
        self._count_openings = True
        self.depth_guarded = False  # whether the last classify_lines relied on the depth limit

    def classify_lines(self, lines: Iterable[bytes]) -> list[tuple[str, tuple | None] | None]:
        """classify() of each line; with the recursion limit standing in for counting brackets where
        the probe shows it does (see _DEPTH_PROBE)."""
        saved = sys.getrecursionlimit()
        # The probe is decoded from this frame; the lines one frame deeper (the comprehension), with
        # less room to nest, so they are refused at least as early as the probe.
        sys.setrecursionlimit(_stack_depth() + _MAX_OPENINGS)
        try:
            self._count_openings = False
            self.depth_guarded = self.classify(_DEPTH_PROBE) is None
            self._count_openings = not self.depth_guarded
            return [self.classify(line) for line in lines]
        finally:
            self._count_openings = True
            sys.setrecursionlimit(saved)

    def __getstate__(self) -> dict:
        # Shipped to Spark's Python workers as the schema; each worker builds its own structs.
        return {"schema": self.schema.json()}

    def __setstate__(self, state: dict) -> None:
        self.__init__(T.StructType.fromJson(json.loads(state["schema"])))

    def decide(self, raw: bytes) -> tuple[str, datetime, str | None, list[str | None]] | None:
        """(post id, created_at, text, hashtags) when the line is certainly a post, else None."""
        decided = self.classify(raw)
        return decided[1] if decided is not None and decided[0] == "post" else None

    def classify(self, raw: bytes) -> tuple[str, tuple | None] | None:
        """(kind, (post id, created_at, text, hashtags) for a post, else None) when the line's kind is
        certainly the one Spark's parse gives it (posts.KINDS); None when the line is left to Spark."""
        if not raw.startswith(b"{") and not raw.strip(_BLANK):
            return "keepalive", None
        if not _within_parser_limits(raw, self._count_openings):
            return None
        try:
            line = self._decoder.decode(raw)
        except msgspec.ValidationError:  # valid JSON, a field of another type: Spark may read it
            return self._corrupt_or_undecided(raw, typed=False)
        except msgspec.DecodeError as error:
            return self._corrupt_or_undecided(raw, typed=True, error=error)
        except RecursionError:
            return None
        if line.data is not None:
            family, post_id, created_at = _v2_post, line.data.id, line.data.created_at
        elif (line.id_str is not None or line.id is not None) and (
            line.created_at is not None or line.text is not None
        ):
            family, post_id = _v1_post, (line.id_str if line.id_str is not None else line.id)
            created_at = line.created_at
        elif _present(line.limit):
            return "limit", None
        elif _present(line.delete):
            return "delete", None
        elif _present(line.errors):
            return "errors", None
        else:
            return "other", None
        # Spark's trim() removes spaces only; an empty timestamp never parses.
        blank_id = post_id is None or (isinstance(post_id, str) and not post_id.strip(" "))
        if blank_id or created_at in (None, ""):
            return "invalid_post", None
        try:
            post = family(line)
        except _Undecided:
            return None
        return "post", post

    @staticmethod
    def _corrupt_or_undecided(
        raw: bytes, *, typed: bool, error: msgspec.DecodeError | None = None
    ) -> tuple[str, None] | None:
        """The kind `corrupt` when the line certainly cannot be one JSON value for Spark's parser
        either; None (left to Spark) otherwise."""
        start = raw.lstrip(_JSON_SPACE)[:1]
        if start and start[0] not in _VALUE_STARTS:
            return "corrupt", None
        if not typed:  # the typed decoder stopped at a field's type: look at the syntax alone
            try:
                msgspec.json.decode(raw)
                return None
            except msgspec.DecodeError as untyped_error:
                error = untyped_error
            except RecursionError:
                return None
        if str(error).startswith(_CORRUPT_SYNTAX):
            return "corrupt", None
        return None

    def decide_batches(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        """For `DataFrame.mapInArrow`: adds the DECIDED_COLUMNS to each batch and keeps `value`
        only on the lines left to Spark, as bytes; the other columns pass through in order."""
        for batch in batches:
            # As bytes, without copying or validating: msgspec checks the UTF-8 itself, and a line
            # that is not UTF-8 is left to Spark rather than failing the batch.
            values = batch.column("value").cast(pa.binary()).to_pylist()
            decided = [self.decide(v) if v is not None else None for v in values]
            columns = {name: batch.column(name) for name in batch.schema.names}
            columns["value"] = pa.array(
                [None if d else v for v, d in zip(values, decided, strict=True)], pa.binary()
            )
            for i, (name, arrow_type) in enumerate(_ARROW_DECIDED):
                columns[name] = pa.array([d[i] if d else None for d in decided], arrow_type)
            yield pa.RecordBatch.from_pydict(columns)


DECIDED_COLUMNS = T.StructType(
    [
        T.StructField("decided_post_id", T.StringType()),
        T.StructField("decided_created_at", T.TimestampType()),
        T.StructField("decided_text", T.StringType()),
        T.StructField("decided_hashtags", T.ArrayType(T.StringType())),
    ]
)
_ARROW_DECIDED = [
    ("decided_post_id", pa.string()),
    ("decided_created_at", pa.timestamp("us", tz="UTC")),
    ("decided_text", pa.string()),
    ("decided_hashtags", pa.list_(pa.string())),
]
