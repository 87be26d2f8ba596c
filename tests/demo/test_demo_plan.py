"""The demo world's emoji statistics, straight from the plan (no images): a Twitter-like skew with
a fixed head, event spikes inside one sampling window, and a per-emoji cap that bites on both."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import numpy as np
import polars as pl
import pytest

from smileynet.demo.pipeline import DemoSettings
from smileynet.demo.plan import ERAS, EVENTS, HEAD, WorldSize, over_cap, plan_posts, window_of
from smileynet.sample.temporal import temporal_sample
from smileynet.vocab import default_vocabulary

VOCAB = default_vocabulary()


@pytest.fixture(scope="module", params=[0, 1])
def kept(request):
    """The kept posts of the default demo's world (`--minutes 10`), for two seeds."""
    posts = plan_posts(np.random.default_rng(request.param), VOCAB, WorldSize.for_minutes(10))
    return [p for p in posts if p.flaw is None]


def share_of_posts(posts, emojis) -> float:
    return sum(any(e in emojis for e in p.emojis) for p in posts) / len(posts)


def test_a_twitter_like_head_over_a_long_tail(kept):
    counts = Counter(e for p in kept for e in p.emojis)
    ranked = [e for e, _ in counts.most_common()]
    assert ranked[0] == "😂" == next(iter(HEAD))  # the head is fixed, not drawn
    assert 0.15 <= share_of_posts(kept, ranked[:1]) <= 0.20
    assert 0.35 <= share_of_posts(kept, ranked[:5]) <= 0.45
    assert len(counts) >= 85  # and still a long tail: nearly every emoji of the 92 is used
    assert share_of_posts(kept, ranked[-40:]) < min(0.3, share_of_posts(kept, ranked[:5]))


def test_events_spike_inside_one_sampling_window(kept):
    first = min(p.created for p in kept)
    for event in EVENTS:
        start = ERAS[event.source][0] + timedelta(days=event.start_day)
        end = start + timedelta(days=event.days)
        assert window_of(start, first) == window_of(end - timedelta(seconds=1), first), event
        source = [p for p in kept if p.source == event.source]
        inside = [p for p in source if start <= p.created < end]
        outside = [p for p in source if not start <= p.created < end]
        during, otherwise = share_of_posts(inside, [event.emoji]), share_of_posts(outside, [event.emoji])
        assert during >= 0.3 and during > 8 * otherwise, (event.emoji, during, otherwise)


def test_the_demo_cap_bites_on_the_head_and_the_events(kept):
    cap = DemoSettings.for_run(10.0, 0, "full").cap
    over = over_cap(kept, cap)
    assert over["😂"] > 0.15 * sum("😂" in p.emojis for p in kept)
    assert sum(over[e.emoji] > 0 for e in EVENTS) >= 3
    tail = set(VOCAB.emojis) - set(HEAD) - {e.emoji for e in EVENTS}
    assert sum(over[e] for e in tail) < 0.1 * sum(over.values())  # the cap leaves the tail alone

    # the real sampler: the head loses its excess, the tail keeps nearly everything
    frame = pl.DataFrame(
        {
            "post_id": [str(i) for i in range(len(kept))],
            "created_at": [p.created for p in kept],
            "labels": [[VOCAB.index(e) for e in p.emojis] for p in kept],
        }
    )
    sampled = temporal_sample(frame, 30, cap, seed=0)
    labels = sampled["labels"].to_list()
    head_after = sum(VOCAB.index("😂") in row for row in labels) / len(labels)
    assert head_after < 0.8 * share_of_posts(kept, ["😂"])
    tail_before = sum(any(e in tail for e in p.emojis) for p in kept)
    tail_after = sum(any(VOCAB.emojis[i] in tail for i in row) for row in labels)
    assert tail_after > 0.9 * tail_before
