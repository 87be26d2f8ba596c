"""The post filter (the paper's rules and ours): the first rule a normalised `Post` breaks, whatever its source."""

from __future__ import annotations

import re

import emoji as emoji_data

from smileynet.collect.post import Post
from smileynet.vocab import extract_emojis


def drop_reason(post: Post) -> str | None:
    """The first rule of the post filter that `post` breaks (cheap rules first), or None: the
    paper's rules (photo; no URL, hashtag, mention; not a reply or quote; at most 5 emojis) and
    ours (retweets dropped as copies; the 5 counts distinct emojis of any kind).

    Emoji rules here are vocabulary-free; ">= 1 in the vocabulary" is checked when the
    vocabulary is known, at the end of collect."""
    if post.is_retweet:
        return "is_retweet"
    if post.is_quote:
        return "is_quote"
    if post.is_reply:
        return "is_reply"
    if not post.image_urls:
        return "no_image"
    if post.has_url:
        return "has_url"
    if post.has_hashtag:
        return "has_hashtag"
    if post.has_mention:
        return "has_mention"
    post.emojis = post_emojis(post.text)
    if not post.emojis:
        return "no_smiley"
    if len(post.emojis) > 5:
        return "too_many_emojis"
    return None


def _emoji_chars() -> re.Pattern[str]:
    """Runs of characters that occur in any emoji the `emoji` package knows, as one regex class."""
    codes = sorted({ord(c) for key in emoji_data.EMOJI_DATA for c in key})
    spans: list[list[int]] = []
    for code in codes:
        if spans and code == spans[-1][1] + 1:
            spans[-1][1] = code
        else:
            spans.append([code, code])
    return re.compile("[" + "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in spans) + "]+")


EMOJI_RUN = _emoji_chars()


def post_emojis(text: str) -> list[str]:
    """`vocab.distinct_emojis(text)`, fast (the package's tokenizer walks every character in Python).

    An emoji lies inside one run of emoji characters, and the tokenizer's state on reaching a run
    depends only on the one character before it (none, U+FE0E, or another one: its backtracking
    over ZWJ sequences can reach that far, no further), so each run is tokenized with that
    character and nothing else. Every emoji holds a non-ASCII character, so ASCII text and ASCII
    runs (digits, '#', '*') hold none. tests/collect/test_collect.py checks the equality."""
    if text.isascii():
        return []
    found: dict[str, None] = {}
    for run in EMOJI_RUN.finditer(text):
        chars = run.group()
        if len(chars) == 1:  # the usual case, a lone emoji between words: no tokenizer needed
            if chars in emoji_data.EMOJI_DATA:
                found[chars] = None
        elif not chars.isascii():
            found.update(dict.fromkeys(extract_emojis(text[max(run.start() - 1, 0) : run.end()])))
    return list(found)
