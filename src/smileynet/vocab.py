"""The emoji vocabulary and emoji extraction from text.

A category is an emoji in its *normalised* form: variation selectors (U+FE0F emoji style,
U+FE0E text style) removed, so that "☺️", "☺︎" and "☺" are one category. Everything else of a
sequence is kept whole: a ZWJ family, a flag, a keycap or a face with a skin tone is one emoji,
never split into its parts. Segmentation comes from the maintained `emoji` package (Unicode's
emoji data), not from a hand-made regex of code-point ranges.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import emoji as emoji_data

from smileynet.contracts import CATEGORIES_COLUMNS
from smileynet.errors import UserError
from smileynet.files import atomic_write_text, read_bounded_text

VARIATION_SELECTORS = "\ufe0f\ufe0e"
DEFAULT_VOCAB_FILE = "vocab_default.tsv"
MAX_VOCAB_BYTES = 4 << 20  # every emoji Unicode has, with names, is under 400 KB
_VS_TABLE = str.maketrans("", "", VARIATION_SELECTORS)


def normalize_emoji(text: str) -> str:
    """The category key of an emoji: the sequence without variation selectors."""
    return text.translate(_VS_TABLE)


def display_emoji(key: str) -> str:
    """The fully qualified form to show a category (adds U+FE0F where Unicode wants it)."""
    qualified = key + "\ufe0f"
    if len(key) == 1 and qualified in emoji_data.EMOJI_DATA:
        return qualified
    return key


def emoji_name(key: str) -> str:
    """CLDR short name ("face with tears of joy"), or the code points when unknown."""
    for form in (display_emoji(key), key):
        data = emoji_data.EMOJI_DATA.get(form)
        if data:
            return data["en"].strip(":").replace("_", " ")
    return codepoints(key)


def codepoints(key: str) -> str:
    return " ".join(f"U+{ord(ch):04X}" for ch in key)


def extract_emojis(text: str) -> list[str]:
    """Every emoji in `text`, in order, normalised; a multi-code-point sequence counts as one."""
    keys = []
    for match in emoji_data.emoji_list(text):
        key = normalize_emoji(match["emoji"])
        if key:
            keys.append(key)
    return keys


def distinct_emojis(text: str) -> list[str]:
    """The distinct emojis of `text` in order of first appearance."""
    return list(dict.fromkeys(extract_emojis(text)))


_CODEPOINT = re.compile(r"(?:U\+|\\U0*|\\u|0x)?([0-9A-Fa-f]{4,6})")


def parse_unicode_field(value: str) -> str:
    """An emoji written as a glyph or as code points ("U+1F602", "1f602", "0x1f602 0xfe0f")."""
    value = value.strip()
    if not value:
        raise UserError("empty emoji field")
    if emoji_data.emoji_list(value):
        return normalize_emoji(value)
    parts = [p for p in re.split(r"[\s_\-,]+", value) if p]
    chars = []
    for part in parts:
        match = _CODEPOINT.fullmatch(part)
        if not match:
            raise UserError(f"not an emoji or code point: {value!r}")
        chars.append(chr(int(match.group(1), 16)))
    return normalize_emoji("".join(chars))


def emoji_from_name(name: str) -> str | None:
    """The emoji a CLDR short name or common alias stands for ("face with tears of joy", "joy"), or None."""
    slug = ":" + "_".join(name.strip().strip(":").lower().split()) + ":"
    found = emoji_data.emojize(slug, language="alias")
    return normalize_emoji(found) if found != slug and emoji_data.is_emoji(found) else None


def parse_category(value: str) -> str:
    """An emoji written by its name, as a glyph or as code points (a `categories.csv` without
    `unicode`). Names first: a word such as "face" also reads as the code point U+FACE."""
    found = emoji_from_name(value)
    if found is not None:
        return found
    try:
        return parse_unicode_field(value)
    except UserError:
        raise UserError(f"not an emoji, code points or an emoji name: {value.strip()!r}") from None


@dataclass(frozen=True)
class Vocabulary:
    """An ordered list of emoji categories; index i is output i of the model."""

    emojis: tuple[str, ...]
    names: tuple[str, ...]
    subgroups: tuple[str, ...] = ()
    _index: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        keys = [normalize_emoji(e) for e in self.emojis]
        if keys != list(self.emojis):
            raise ValueError("vocabulary emojis must be normalised (no variation selectors)")
        if len(set(keys)) != len(keys):
            dupes = [k for k, n in Counter(keys).items() if n > 1]
            raise UserError(f"vocabulary lists an emoji twice: {' '.join(dupes)}")
        if not keys:
            raise UserError("vocabulary is empty")
        self._index.update({k: i for i, k in enumerate(keys)})

    @classmethod
    def from_emojis(cls, emojis: Iterable[str]) -> Vocabulary:
        """A vocabulary of these emojis; names from CLDR, Unicode subgroups from the default list
        where it has the emoji ("" otherwise; the lexicon's fallback uses them)."""
        keys = tuple(normalize_emoji(e) for e in emojis)
        default = default_vocabulary()
        groups = dict(zip(default.emojis, default.subgroups))
        return cls(keys, tuple(emoji_name(k) for k in keys), tuple(groups.get(k, "") for k in keys))

    def __len__(self) -> int:
        return len(self.emojis)

    def __iter__(self):
        return iter(self.emojis)

    def __contains__(self, key: str) -> bool:
        return normalize_emoji(key) in self._index

    def index(self, key: str) -> int:
        return self._index[normalize_emoji(key)]

    def labels(self, text: str) -> list[int]:
        """Indices of the distinct vocabulary emojis of `text`, in order of first appearance."""
        return [self._index[k] for k in distinct_emojis(text) if k in self._index]

    def display(self, i: int) -> str:
        return display_emoji(self.emojis[i])

    def to_categories(self) -> list[dict[str, str]]:
        """Rows of the official release's `categories.csv` (`category`, `unicode`)."""
        return [{"category": n, "unicode": codepoints(e)} for e, n in zip(self.emojis, self.names)]

    def write_categories_csv(self, path: Path) -> None:
        """Write the release's `categories.csv`, atomically."""
        buffer = io.StringIO(newline="")
        writer = csv.DictWriter(buffer, fieldnames=list(CATEGORIES_COLUMNS))
        writer.writeheader()
        writer.writerows(self.to_categories())
        atomic_write_text(path, buffer.getvalue())

    @classmethod
    def from_categories_csv(cls, path: Path) -> Vocabulary:
        """Read a release-layout `categories.csv`: the emoji from `unicode` (glyph or code points)
        when the file has that column, else from `category` (glyph, code points or emoji name:
        the official scripts read only `category`)."""
        reader = csv.DictReader(io.StringIO(read_vocab_text(path), newline=""))
        columns = set(reader.fieldnames or [])
        rows = list(reader)
        column = "unicode" if "unicode" in columns else "category" if "category" in columns else None
        if not rows or column is None:
            raise UserError(
                f"{path}: expected a categories.csv with a 'unicode' or 'category' column and a row per emoji"
            )
        keys = []
        for number, row in enumerate(rows, 2):
            try:
                keys.append(
                    parse_unicode_field(row[column] or "") if column == "unicode" else parse_category(row[column] or "")
                )
            except UserError as err:
                raise UserError(f"{path}: line {number}: {err}") from None
        given = [(r.get("category") or "").strip() if column == "unicode" else "" for r in rows]
        names = tuple(name or emoji_name(k) for name, k in zip(given, keys))
        return cls(tuple(keys), names)

    @classmethod
    def top_n(cls, counts: Counter[str] | dict[str, int], n: int) -> Vocabulary:
        """The `n` most frequent emojis of `counts` (ties broken by emoji, for reproducibility)."""
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return cls.from_emojis(k for k, _ in ranked[:n])


@lru_cache(maxsize=1)
def default_vocabulary() -> Vocabulary:
    """The 92 smileys shipped with the package (see the data file's header for why these)."""
    text = resources.files("smileynet.assets").joinpath(DEFAULT_VOCAB_FILE).read_text("utf-8")
    return _parse_vocab_text(text, DEFAULT_VOCAB_FILE)


def _parse_vocab_text(text: str, origin: str) -> Vocabulary:
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if lines and lines[0].split("\t")[0].strip().lower() == "emoji":
        header = lines[0].split("\t")
        rows = [dict(zip(header, ln.split("\t"))) for ln in lines[1:]]
        keys = tuple(parse_unicode_field(r["emoji"]) for r in rows)
        names = tuple(r.get("name") or emoji_name(k) for r, k in zip(rows, keys))
        return Vocabulary(keys, names, tuple(r.get("subgroup", "") for r in rows))
    listed = []
    for number, line in enumerate(lines, 1):
        try:
            listed.append(parse_unicode_field(line.split("\t")[0]))
        except UserError as err:
            raise UserError(f"{origin}: line {number}: {err}") from None
    return Vocabulary.from_emojis(listed)


def load_vocabulary(spec: str | Path | None = None) -> Vocabulary:
    """`None`/"default" -> the 92 smileys; a path -> a list file (one emoji per line, or a TSV
    with an `emoji` header, or a release `categories.csv`). `top:N` needs counts: see `top_n`."""
    if spec is None or str(spec) == "default":
        return default_vocabulary()
    if str(spec).startswith("top:"):
        raise UserError("'top:N' is chosen from collected data; pass counts to Vocabulary.top_n")
    path = Path(spec)
    if not path.is_file():
        raise UserError(f"vocabulary file not found: {path}")
    if path.suffix == ".csv":
        return Vocabulary.from_categories_csv(path)
    return _parse_vocab_text(read_vocab_text(path), str(path))


def read_vocab_text(path: Path) -> str:
    """An emoji list file's text: at most MAX_VOCAB_BYTES, UTF-8 (a BOM is dropped), else one line."""
    return read_bounded_text(path, MAX_VOCAB_BYTES, "an emoji list", encoding="utf-8-sig")


def parse_top_spec(spec: str | None) -> int | None:
    """N for a `top:N` vocabulary spec, else None."""
    if spec is None or not str(spec).startswith("top:"):
        return None
    try:
        n = int(str(spec)[4:])
    except ValueError:
        raise UserError(f"bad vocabulary spec {spec!r}: expected top:N with N a whole number") from None
    if n < 1:
        raise UserError(f"bad vocabulary spec {spec!r}: N must be >= 1")
    return n
