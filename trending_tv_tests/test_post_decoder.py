"""The Python fast path of rules 2-4 (trending_tv/transforms/post_decoder.py) gives exactly what
Spark's parse gives, line by line, on awkward input in both payload families: the same posts with the
same content, the same kind for every other line it decides; and it does decide the well-formed posts
and the usual notices and bad lines (otherwise it would only cost time)."""

from __future__ import annotations

import json
from datetime import date, datetime

from ingest_host import layout
from ingest_host.lake import Lake
from trending_tv.transforms.post_decoder import PostDecoder, _has_long_digit_run
from trending_tv.transforms.posts import RAW_LINE, parse_lines, read_raw_lines
from trending_tv_tests.lake_fixtures import v1_object, v1_status, v2_object, v2_post

D = date(2020, 11, 23)
WHEN = "2020-11-23T10:00:00"


def _v2(data_changes: dict | None = None, **top) -> str:
    line = json.loads(v2_post("21", WHEN + ".000Z", "Lost tonight", ("LOST",)))
    line["data"].update(data_changes or {})
    line.update(top)
    return json.dumps(line, ensure_ascii=False)


def _v1(**changes) -> str:
    status = v1_object("31", WHEN, "Lost v1", ("lost",))
    status.update(changes)
    return json.dumps(status, ensure_ascii=False)


# Lines the fast path must decide itself (well-formed posts in canonical form).
DECIDED = [
    v2_post("1", WHEN + ".000Z", "Lost tonight #LOST", ("LOST",)),
    v2_post("2", WHEN + "Z", "no milliseconds", ()),
    v2_post("3", WHEN + ".250Z", "RT @a: x", (), retweet_of={**v2_object("30", "Lost original", ("Lost",))}),
    v2_post("4", WHEN + ".000Z", "RT @a: gone", (), retweet_of={"id": "40", "missing": True}),
    v2_post("5", WHEN + ".000Z", "short", ("a",), note=("Lost, the long version", ("LostNote",))),
    v2_post("6", WHEN + ".000Z", "short", ("own",), note=("note without tags", ())),
    _v2(
        {"referenced_posts": [{"type": "retweeted", "id": "70"}], "id": "7"},
        includes={"posts": [v2_object("70", "via posts", ("P",))]},
    ),
    _v2({"id": " 8 "}),
    _v2({"entities": {"hashtags": [None, {"tag": None}, {"start": 1}, {"tag": "Lost"}]}, "id": "9"}),
    _v2({"id": "10", "text": "caf\u00e9 \\u00e9 \n newline"}),
    "  " + _v2({"id": "11"}) + "\t",
    _v2({"id": "12", "note_post": {"text": "post note", "entities": None}}),
    '{"data":{"id":"13","text":"dup","created_at":"2020-11-23T10:00:00.000Z"},"data":{"id":"14","text":"dup2","created_at":"2020-11-23T11:00:00.000Z"}}',
    v1_status("31", WHEN, "Lost v1 #lost", ("lost",)),
    _v1(id_str=None, id=32),
    _v2({"id": 51}),  # Spark reads a number in a string field as its text: "51"
    '{"data":null,"id_str":"60","text":"v1 after a null data","created_at":"Mon Nov 23 10:00:00 +0000 2020"}',
    _v1(
        id_str="33",
        extended_tweet={"full_text": "Lost extended", "entities": {"hashtags": [{"text": "LostExt"}]}},
    ),
    _v1(id_str="34", extended_tweet={"full_text": "extended, no tags", "entities": {"hashtags": []}}),
    _v1(id_str="35", retweeted_status=v1_object("36", "2020-11-20T00:00:00", "Lost retweeted", ("rt",))),
    _v2({"id": "50"}, errors=[{"title": "partial"}]),  # a post; `errors` is only kept as JSON text
]

# Lines the fast path must classify itself, with the kind Spark gives them (not posts).
KINDS_DECIDED = {
    "": "keepalive",
    "   ": "keepalive",
    " \t\x0b\x0c ": "keepalive",
    '{"limit":{"track":12}}': "limit",
    '{"limit":5,"delete":null}': "limit",
    '{"delete":{"status":{"id":1}}}': "delete",
    '{"limit":null,"delete":[]}': "delete",
    '{"errors":[{"title":"operational-disconnect"}]}': "errors",
    '{"errors":"text"}': "errors",
    '{"warning":{"code":"FALLING_BEHIND"}}': "other",
    '{"connection_issue":"TooManyConnections","errors":null}': "other",
    "{}": "other",
    # Spark matches field names exactly (as msgspec does): a capitalised key is another field.
    '{"Data":{"id":"67","text":"capital","created_at":"2020-11-23T10:00:00.000Z"}}': "other",
    '{"data":{"ID":"68","text":"capital id","created_at":"2020-11-23T10:00:00.000Z"}}': "invalid_post",
    '{"data":{}}': "invalid_post",
    _v2({"id": "   "}): "invalid_post",
    _v2({"id": None}): "invalid_post",
    _v2({"id": "52", "created_at": ""}): "invalid_post",
    _v2({"id": "52", "created_at": None}): "invalid_post",
    _v1(id_str="73", created_at=None): "invalid_post",  # a v1.1 status by its text, without a time
    _v1(id_str="77", created_at=""): "invalid_post",
    _v1(id_str=" ", id=78): "invalid_post",  # id_str is the id when given, even blank
    _v2({"id": "61"}) + _v2({"id": "62"}): "corrupt",  # two posts glued together
    _v2({"id": "63"}) + " trailing": "corrupt",
    _v2({"id": "63"})[:-40] + _v2({"id": "64"}): "corrupt",  # cut off, then the next message
    _v2({"id": "65"})[:-40]: "corrupt",  # cut off at the end of the file
    '{"data":{"id":"66" "text":"x"}}': "corrupt",
    '{"data" {"id":"66"}}': "corrupt",
    "[1 2]": "corrupt",
    "<html><head><title>503 Service Temporarily Unavailable</title></head></html>": "corrupt",
    "]": "corrupt",
    '],"x":[{"y":1}': "corrupt",
    "\ufeff{}": "corrupt",  # a byte-order mark is not JSON
}

# Lines the fast path must leave to Spark (Spark's answer needs Spark).
UNDECIDED = [
    _v2({"id": "53", "created_at": "2020-11-23T10:00:00.000+01:00"}),
    _v2({"id": "54", "created_at": "2020-02-30T10:00:00.000Z"}),
    _v2({"id": "55", "created_at": "2020-11-23T24:00:00Z"}),
    _v2({"id": "56", "created_at": 1606125600}),
    _v2({"id": "57", "entities": {"hashtags": {"tag": "x"}}}),
    _v2({"id": "58", "entities": {"hashtags": [{"tag": 5}]}}),
    _v2({"id": "59"}, includes="nope"),
    '{"data":"text"}',
    '{"data":{"id":"64","text":"bad \\ud800 surrogate","created_at":"2020-11-23T10:00:00.000Z"}}',
    '{"data":{"id":"65","text":"nan","created_at":"2020-11-23T10:00:00.000Z"},"x":NaN}',
    "{'data':{'id':'66','text':'single quotes','created_at':'2020-11-23T10:00:00.000Z'}}",
    '{"data":{"id":"68","text":"deep","created_at":"2020-11-23T10:00:00.000Z"},"q":'
    + "[" * 1100
    + "]" * 1100
    + "}",
    _v2({"id": "15"}, n=int("9" * 1500)),  # Spark's parser refuses numbers over 1,000 characters
    _v2({"id": "16"}, n="").replace('"n": ""', '"n": 1.' + "5" * 999),
    _v2({"id": "17"}, q="DEPTH").replace('"DEPTH"', "[" * 995 + "]" * 995),  # near the depth limit
    _v2({"id": "18", "text": "x" * 60_000}),  # long lines are left to Spark
    _v1(id_str=None, id=0),
    _v1(id_str=None, id=-5),
    _v1(id_str=None, id=1.5),
    _v1(id_str="71", created_at="Mon Nov 23 10:00:00 +0100 2020"),
    _v1(id_str="72", created_at="Mon nov 23 10:00:00 +0000 2020"),
    _v1(id_str="74", retweeted_status=5),
    _v1(id_str="75", extended_tweet={"full_text": 7}),
    "[1, 2]",
    '[{"data":{"id":"76"}}]',
    '"just a string"',
    "5",
    "null",
    "{not json",
    "{'data':{'id':'79'}}{",  # single quotes: Jackson reads further than msgspec
    '{"a":NaN',
    '{"a":tru}',
]
# Raw bytes that are not UTF-8, in a post that is otherwise well formed.
INVALID_UTF8 = b'{"data":{"id":"80","text":"bad \xff byte","created_at":"2020-11-23T10:00:00.000Z"}}'


def _write(tmp_path) -> list[str]:
    lake = Lake.from_url(tmp_path)
    key = layout.tweet_hour_key(datetime(2020, 11, 23, 10))
    body = "\n".join(ALL_LINES).encode() + b"\n" + INVALID_UTF8 + b"\n"
    path = tmp_path / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return [lake.uri(key)]


ALL_LINES = [*DECIDED, *KINDS_DECIDED, *UNDECIDED]


def test_the_fast_path_decides_well_formed_posts_and_nothing_doubtful():
    decoder = PostDecoder(RAW_LINE)
    assert [i for i, line in enumerate(DECIDED) if decoder.decide(line.encode()) is None] == []
    assert [line[:60] for line in UNDECIDED if decoder.classify(line.encode()) is not None] == []
    assert decoder.classify(INVALID_UTF8) is None
    classified = {line: decoder.classify(line.encode()) for line in KINDS_DECIDED}
    assert {line: c and c[0] for line, c in classified.items()} == KINDS_DECIDED
    assert all(c[1] is None for c in classified.values())


def test_the_sampled_digit_run_guard_finds_every_long_run():
    # The guard looks at every 98th byte first; a run of 490 digits must be found wherever it starts.
    for offset in range(200):
        for run in (489, 490, 491, 1001):
            line = b'{"a":"' + b"x" * offset + b'","n":' + b"7" * run + b"}"
            assert _has_long_digit_run(line) is (run >= 490), (offset, run)
    assert not _has_long_digit_run(b"1234 " * 2000)  # many short numbers


def test_the_fast_path_decodes_what_spark_decodes(spark, tmp_path):
    paths = _write(tmp_path)
    columns = [
        "source_file",
        "block_start",
        "row_in_partition",
        "kind",
        "post_id",
        "created_at",
        "date",
        "text",
        "hashtags",
    ]

    def rows(**kw):
        parsed = parse_lines(read_raw_lines(spark, paths), **kw)
        return sorted(tuple(r) for r in parsed.select(*columns).collect())

    spark_only, with_fast_path = rows(decide_posts_in_python=False), rows()
    assert len(spark_only) == len(ALL_LINES) + 1
    assert with_fast_path == spark_only
    # The answers are not trivially equal: every decided line is a post, with its content.
    kinds = [r[3] for r in with_fast_path]
    assert kinds.count("post") >= len(DECIDED)
    by_id = {r[4]: r for r in with_fast_path if r[3] == "post"}
    assert by_id["3"][7] == "Lost original" and by_id["3"][8] == ["Lost"]
    assert by_id["5"][7] == "Lost, the long version" and by_id["5"][8] == ["LostNote"]
    assert by_id["6"][8] == ["own"]
    assert by_id["9"][8] == [None, None, None, "Lost"]
    assert by_id["14"][7] == "dup2"  # a repeated key: the last value, as Spark reads it
    assert by_id["32"][4] == "32" and by_id["33"][8] == ["LostExt"] and by_id["34"][8] == ["lost"]
    assert by_id["35"][7] == "Lost retweeted"


def test_every_kind_the_fast_path_decides_is_sparks(spark, tmp_path):
    # Line by line over the whole file (in file order): where the decoder gives a kind, Spark's own
    # parse of that line gives the same kind.
    paths = _write(tmp_path)
    parsed = parse_lines(read_raw_lines(spark, paths), decide_posts_in_python=False)
    spark_kinds = [r["kind"] for r in parsed.orderBy("block_start", "row_in_partition").collect()]
    decoder = PostDecoder(RAW_LINE)
    lines = [line.encode() for line in ALL_LINES] + [INVALID_UTF8]
    assert len(spark_kinds) == len(lines)
    decided = [(i, c[0], spark_kinds[i]) for i, c in enumerate(map(decoder.classify, lines)) if c is not None]
    assert len(decided) == len(DECIDED) + len(KINDS_DECIDED)
    assert [(i, mine, theirs) for i, mine, theirs in decided if mine != theirs] == []


def test_classify_lines_lets_the_parsers_depth_limit_stand_in_for_counting_brackets():
    decoder = PostDecoder(RAW_LINE)
    post = json.loads(v2_post("1", WHEN + ".000Z", "Lost", ()))
    wide = json.dumps({**post, "q": [[] for _ in range(950)]}).encode()  # 950 brackets, 2 deep
    deep = json.dumps(post)[:-1].encode() + b',"q":' + b"[" * 1100 + b"]" * 1100 + b"}"
    near = json.dumps(post)[:-1].encode() + b',"q":' + b"[" * 995 + b"]" * 995 + b"}"
    lines = [line.encode() for line in ALL_LINES] + [INVALID_UTF8]
    classified = decoder.classify_lines([*lines, wide, deep, near])
    # On this interpreter msgspec's depth follows the recursion limit: the probe is refused.
    assert decoder.depth_guarded
    assert classified[-3][0] == "post" and classified[-2:] == [None, None]
    assert decoder.classify(wide) is None  # one line at a time, the brackets are counted
    assert classified[:-3] == [decoder.classify(line) for line in lines]  # every other answer unchanged
