"""The four post readers on any record: a valid record of each source with values swapped for any
JSON at any place. The only outcomes are posts / drop reasons, or Malformed and the shape errors
collect counts as malformed (`collector.BAD_DATA`); collect itself never raises on any line."""

from __future__ import annotations

import copy
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smileynet.collect.collector import BAD_DATA, DROP_REASONS, collect_task
from smileynet.collect.filter import drop_reason
from smileynet.collect.post import Malformed, Post, parse_time
from smileynet.collect.records import parse_record

JOY = "\U0001f602"
RECORDS = {
    "twitter-v1": {  # developer.x.com v1.1 Tweet object: the fields the reader looks at
        "id_str": "101",
        "id": 101,
        "created_at": "Thu May 25 20:08:36 +0000 2017",
        "text": f"hi {JOY}",
        "lang": "en",
        "user": {"id_str": "7"},
        "in_reply_to_status_id": None,
        "is_quote_status": False,
        "entities": {"urls": [], "hashtags": [], "user_mentions": [], "media": [{"url": "https://t.co/x"}]},
        "extended_entities": {
            "media": [
                {"type": "photo", "url": "https://t.co/x", "media_url_https": "https://pbs.twimg.com/media/x.jpg"}
            ]
        },
    },
    "twitter-v2": {  # a twarc2 page: data + includes.media
        "data": [
            {
                "id": "201",
                "text": f"hi {JOY}",
                "created_at": "2022-08-13T20:00:00.000Z",
                "author_id": "8",
                "attachments": {"media_keys": ["3_1"]},
                "entities": {"urls": []},
                "lang": "en",
            }
        ],
        "includes": {"media": [{"media_key": "3_1", "type": "photo", "url": "https://pbs.twimg.com/media/y.jpg"}]},
    },
    "bluesky": {  # a Jetstream commit event of app.bsky.feed.post
        "did": "did:plc:alice",
        "time_us": 1717243200000000,
        "kind": "commit",
        "commit": {
            "rev": "3l1",
            "operation": "create",
            "collection": "app.bsky.feed.post",
            "rkey": "3kabc",
            "cid": "bafyreipost",
            "record": {
                "$type": "app.bsky.feed.post",
                "text": f"sunny {JOY}",
                "createdAt": "2024-06-01T12:00:00.000Z",
                "langs": ["en"],
                "embed": {
                    "$type": "app.bsky.embed.images",
                    "images": [
                        {
                            "alt": "",
                            "image": {
                                "$type": "blob",
                                "ref": {"$link": "bafkreiimage1"},
                                "mimeType": "image/jpeg",
                                "size": 1000,
                            },
                        }
                    ],
                },
            },
        },
    },
    "mastodon": {  # a REST Status entity
        "id": "1001",
        "uri": "https://masto.example/users/alice/statuses/1001",
        "created_at": "2024-06-01T12:00:00.000Z",
        "account": {"id": "7", "url": "https://masto.example/@alice"},
        "content": f"<p>sunny {JOY}</p>",
        "language": "en",
        "in_reply_to_id": None,
        "reblog": None,
        "mentions": [],
        "tags": [],
        "media_attachments": [{"id": "9", "type": "image", "url": "https://files.masto.example/1001.jpg"}],
    },
}


def paths(value, prefix=()) -> list[tuple]:
    """Every place in a record (keys of objects, indices of lists), the record itself included."""
    found = [prefix]
    if isinstance(value, dict):
        for key, inner in value.items():
            found += paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += paths(inner, (*prefix, index))
    return found


def replaced(record, path: tuple, new):
    if not path:
        return new
    record = copy.deepcopy(record)
    holder = record
    for step in path[:-1]:
        holder = holder[step]
    holder[path[-1]] = new
    return record


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**64) | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=10,
)


@st.composite
def mutated(draw):
    source = draw(st.sampled_from(sorted(RECORDS)))
    record = RECORDS[source]
    for _ in range(draw(st.integers(1, 3))):
        record = replaced(record, draw(st.sampled_from(paths(record))), draw(JSON))
    return source, record


def test_the_unmutated_records_are_kept():
    for source, record in RECORDS.items():
        [post] = parse_record(record, source)
        assert isinstance(post, Post) and drop_reason(post) is None, source


@settings(max_examples=200, deadline=1000)
@given(case=mutated(), forced=st.booleans())
def test_any_record_gives_posts_reasons_or_a_counted_error(case, forced):
    source, record = case
    try:
        items = parse_record(record, source if forced else "auto")
        for item in items:
            if isinstance(item, Post):
                reason = drop_reason(item)
                assert reason is None or reason in DROP_REASONS
                parse_time(item.created)
            else:
                assert isinstance(item, Malformed) or item in DROP_REASONS
    except (Malformed, *BAD_DATA):
        pass


@settings(max_examples=40, deadline=5000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(mutated().map(lambda case: json.dumps(case[1]).encode()) | st.binary(max_size=80), max_size=6))
def test_collect_counts_every_line_of_any_input(tmp_path_factory, lines):
    import pyarrow.parquet as pq

    from smileynet.collect.archives import BOM, expand_inputs, make_tasks

    root = tmp_path_factory.mktemp("fuzz")
    lines = [line.replace(b"\n", b" ") for line in lines]
    path = root / "in.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    (root / "parts").mkdir()
    [task] = make_tasks(expand_inputs([path]))
    report = collect_task(task, str(root / "parts"))  # never raises: that is the first half of the property
    counts = report["counts"]
    dropped = sum(counts[reason] for reason in DROP_REASONS)
    candidates = sum(pq.read_metadata(root / "parts" / run).num_rows for run in report["runs"])
    assert candidates == counts["read"] - dropped >= 0
    if lines:
        lines[0] = lines[0].removeprefix(BOM)
    assert counts["read"] >= sum(map(least_records, lines))


def least_records(line: bytes) -> int:
    """Records a line counts at least: none for a blank line or an empty twarc2 page, else one (a
    page may hold several)."""
    if not line.strip():
        return 0
    try:
        obj = json.loads(line)
    except ValueError:
        return 1
    return 0 if isinstance(obj, dict) and obj.get("data") == [] else 1


def test_a_kept_post_with_a_field_of_another_type_is_malformed_and_the_run_is_written(tmp_path):
    from smileynet.collect import collect

    odd = dict(RECORDS["mastodon"], id="1002", language=["en"])
    (tmp_path / "in.jsonl").write_bytes(
        json.dumps(RECORDS["mastodon"]).encode() + b"\n" + json.dumps(odd).encode() + b"\n"
    )
    report = collect([tmp_path / "in.jsonl"], tmp_path / "out", workers=1, quiet=True)
    assert report["totals"]["kept"] == 1 and report["totals"]["dropped"]["malformed"] == 1
