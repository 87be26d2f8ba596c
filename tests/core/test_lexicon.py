from smileynet.lexicon import coverage, lookup, vocabulary_sentiment
from smileynet.vocab import Vocabulary, default_vocabulary


def test_lookup_normalises_variation_selectors():
    with_fe0f, bare = lookup("❤️"), lookup("❤")
    assert with_fe0f is not None and with_fe0f == bare
    assert with_fe0f.positive > with_fe0f.negative and with_fe0f.polarity == 1


def test_known_scores_match_the_published_counts():
    joy = lookup("😂")
    assert (joy.negative, joy.neutral, joy.positive, joy.occurrences) == (3614, 4163, 6845, 14622)
    assert abs(joy.score - (6845 - 3614) / 14622) < 1e-12
    assert lookup("😭").polarity == -1
    assert lookup("😍").polarity == 1


def test_uncovered_emojis_fall_back_to_their_subgroup_mean_and_are_reported():
    vocab = default_vocabulary()
    result = vocabulary_sentiment(vocab)
    assert "🤬" in result.fallback and "😂" not in result.fallback
    negative = [lookup(e).score for e, g in zip(vocab.emojis, vocab.subgroups) if g == "face-negative" and lookup(e)]
    assert abs(result.scores[vocab.index("🤬")] - sum(negative) / len(negative)) < 1e-12
    report = coverage(vocab)
    assert report["total"] == 92 and report["covered"] + len(report["fallback"]) == 92


def test_uncovered_without_subgroup_is_neutral():
    result = vocabulary_sentiment(Vocabulary.from_emojis(["🥰", "😂"]))
    assert result.scores[0] == 0.0 and result.polarities[0] == 0
    assert result.fallback == ("🥰",)
