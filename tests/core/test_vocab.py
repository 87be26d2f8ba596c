from collections import Counter

import pytest

from smileynet.errors import UserError
from smileynet.vocab import (
    Vocabulary,
    default_vocabulary,
    distinct_emojis,
    extract_emojis,
    load_vocabulary,
    normalize_emoji,
    parse_top_spec,
    parse_unicode_field,
)

PAPER_FACES = ["😂", "😍", "👻", "💀", "☠", "😪", "😴", "😢"]


def test_default_vocabulary_has_92_unique_normalised_smileys():
    vocab = default_vocabulary()
    assert len(vocab) == 92
    assert len(set(vocab.emojis)) == 92
    assert all(normalize_emoji(e) == e for e in vocab.emojis)
    assert all("\ufe0f" not in e and "\ufe0e" not in e for e in vocab.emojis)
    assert all(sg.startswith("face-") for sg in vocab.subgroups)
    for face in PAPER_FACES:
        assert face in vocab, face
    assert vocab.names[vocab.index("😂")] == "face with tears of joy"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("👨‍👩‍👧‍👦 family", ["👨‍👩‍👧‍👦"]),  # ZWJ family stays whole
        ("👍🏽👍", ["👍🏽", "👍"]),  # skin tone is part of its emoji
        ("☺️ and ☺ and ☺︎", ["☺", "☺", "☺"]),  # FE0F / FE0E / bare are one category
        ("1️⃣#️⃣", ["1⃣", "#⃣"]),  # keycaps are one emoji each, the digit alone is none
        ("🇫🇷🇩🇪", ["🇫🇷", "🇩🇪"]),  # flags are pairs of regional indicators
        ("🏳️‍🌈!", ["🏳‍🌈"]),
        ("wow😂,ok😍.", ["😂", "😍"]),  # next to text and punctuation
        ("1 2 3 # *", []),
        ("😂😭😍🔥💯🙏", ["😂", "😭", "😍", "🔥", "💯", "🙏"]),  # six emojis: all found
    ],
)
def test_extract_emojis_tricky_strings(text, expected):
    assert extract_emojis(text) == expected


def test_distinct_emojis_keep_order_of_first_appearance():
    assert distinct_emojis("😂 lol 😍😂☺️☺") == ["😂", "😍", "☺"]


def test_vocabulary_labels_are_distinct_vocab_indices_in_order():
    vocab = default_vocabulary()
    labels = vocab.labels("🔥 😍 x 😂😍 ☺️")
    assert labels == [vocab.index("😍"), vocab.index("😂"), vocab.index("☺")]


def test_user_list_file_and_categories_csv_round_trip(tmp_path):
    listing = tmp_path / "mine.txt"
    listing.write_text("# my emojis\n😂\n❤️\nU+1F62D\n", encoding="utf-8")
    vocab = load_vocabulary(listing)
    assert vocab.emojis == ("😂", "❤", "😭")
    csv_path = tmp_path / "categories.csv"
    vocab.write_categories_csv(csv_path)
    assert Vocabulary.from_categories_csv(csv_path).emojis == vocab.emojis


def test_bad_vocab_inputs_are_one_line_errors(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("😂\nnot an emoji\n", encoding="utf-8")
    with pytest.raises(UserError, match="line 2"):
        load_vocabulary(bad)
    dup = tmp_path / "dup.txt"
    dup.write_text("😂\n😂\n", encoding="utf-8")
    with pytest.raises(UserError, match="twice"):
        load_vocabulary(dup)
    with pytest.raises(UserError):
        load_vocabulary(tmp_path / "missing.txt")
    with pytest.raises(UserError):
        parse_top_spec("top:x")


def test_top_n_by_frequency_ties_by_emoji():
    counts = Counter({"😂": 10, "😍": 5, "😭": 5, "🙂": 1})
    assert Vocabulary.top_n(counts, 3).emojis == ("😂", "😍", "😭")
    assert parse_top_spec("top:3") == 3 and parse_top_spec("default") is None


def test_parse_unicode_field_forms():
    for form in ("😂", "U+1F602", "1f602", "0x1F602", "\\U0001F602"):
        assert parse_unicode_field(form) == "😂"
    assert parse_unicode_field("U+2764 U+FE0F") == "❤"
