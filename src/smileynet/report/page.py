"""HTML building blocks: every piece of text escaped, every image a data URI, no scripts, no
requests, so the page opens offline and can be mailed as one file."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable, Sequence
from functools import lru_cache

from smileynet.glyphs import emoji_data_uri
from smileynet.vocab import display_emoji, emoji_name

CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2330;
       margin: 0; background: #f6f7f9; }
header { background: #1d2330; color: #fff; padding: 18px 32px; }
header h1 { margin: 0 0 4px; font-size: 24px; }
header p { margin: 0; color: #c9cfdb; font-size: 13px; }
nav { padding: 8px 32px; background: #e9ecf2; font-size: 14px; }
nav a { margin-right: 16px; color: #23446e; }
main { padding: 8px 32px 40px; max-width: 1280px; }
section { background: #fff; border-radius: 8px; padding: 4px 24px 18px; margin: 18px 0;
          box-shadow: 0 1px 3px rgba(0, 0, 0, .08); }
h2 { font-size: 20px; border-bottom: 2px solid #e0b000; padding-bottom: 4px; }
h3 { font-size: 16px; margin: 22px 0 8px; }
table { border-collapse: collapse; margin: 8px 0 4px; font-size: 14px; }
th, td { border-bottom: 1px solid #e3e6ec; padding: 4px 10px; text-align: left; vertical-align: middle; }
th { background: #f0f2f6; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.published td { color: #5b6372; background: #fbf7e6; font-style: italic; }
tr.ours td { font-weight: 600; }
span.tag { font-size: 11px; font-style: normal; font-weight: 600; padding: 1px 6px; border-radius: 8px;
           margin-left: 6px; }
span.tag.published { background: #f1e2a8; color: #6b5500; }
span.tag.ours { background: #cfe3f7; color: #1d4f80; }
img.emoji { width: 24px; height: 24px; vertical-align: middle; }
span.emoji-name { font-size: 12px; color: #4a5160; }
figure { margin: 12px 0; }
div.gallery { display: flex; flex-wrap: wrap; gap: 0 18px; align-items: flex-start; }
div.gallery figure { flex: 0 1 540px; }
div.gallery figure.wide { flex-basis: 100%; }
figure img.plot { max-width: 100%; height: auto; border: 1px solid #e3e6ec; }
figcaption { font-size: 13px; color: #4a5160; margin-top: 4px; }
p.note { font-size: 13px; color: #5b6372; }
div.examples { display: flex; flex-wrap: wrap; gap: 14px; }
div.example { width: 200px; font-size: 12px; }
div.example img.photo { width: 200px; height: 200px; object-fit: cover; border-radius: 4px; }
div.example table { margin: 4px 0; font-size: 12px; width: 100%; }
div.example td { padding: 1px 4px; border: none; overflow-wrap: anywhere; }
div.example td.num { white-space: nowrap; }
div.example div.emoji-name { overflow-wrap: anywhere; }
span.tag.generated { background: #e2d5f5; color: #4b2a7a; }
p.demo { background: #f3edfb; border-left: 4px solid #7a52b3; padding: 6px 10px; font-size: 13px; }
div.vocab { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 12px; }
div.vocab span { width: 220px; }
details { margin: 8px 0; }
summary { cursor: pointer; color: #23446e; }
"""


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def png_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def jpeg_uri(image, size: int = 256) -> str:
    """A PIL image as a small JPEG data URI (photos in Fig. 5)."""
    image = image.convert("RGB")
    image.thumbnail((size, size))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


@lru_cache(maxsize=1024)
def emoji(key: str, with_name: bool = False) -> str:
    """The emoji as a glyph image (its name as alt text), or its name where no font is installed."""
    name = emoji_name(key)
    uri = emoji_data_uri(key, 48)
    if uri is None:
        return f'<span class="emoji-name" title="{esc(display_emoji(key))}">{esc(name)}</span>'
    glyph = f'<img class="emoji" src="{uri}" alt="{esc(name)}" title="{esc(name)}">'
    return glyph + (f' <span class="emoji-name">{esc(name)}</span>' if with_name else "")


def tag(kind: str, text: str | None = None) -> str:
    return f'<span class="tag {esc(kind)}">{esc(text or kind)}</span>'


def table(
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    numeric: Sequence[int] = (),
    row_classes: Sequence[str] | None = None,
    raw: bool = False,
) -> str:
    """A table; cells are escaped unless `raw` (cells already HTML). `numeric`: right-aligned columns."""
    right = set(numeric)
    head = "".join(f"<th{' class=num' if i in right else ''}>{esc(h)}</th>" for i, h in enumerate(header))
    body = []
    for n, row in enumerate(rows):
        cls = f' class="{esc(row_classes[n])}"' if row_classes and row_classes[n] else ""
        cells = "".join(
            f"<td{' class=num' if i in right else ''}>{c if raw else esc(c)}</td>" for i, c in enumerate(row)
        )
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def figure(uri: str, caption: str, alt: str | None = None, wide: bool = False) -> str:
    """An embedded plot with its caption; `wide` ones take a whole row of a gallery."""
    return (
        f'<figure{" class=wide" if wide else ""}><img class="plot" src="{uri}" alt="{esc(alt or caption)}">'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )


def gallery(figures: Iterable[str]) -> str:
    """Figures side by side, wrapping to the page width."""
    return f'<div class="gallery">{"".join(figures)}</div>'


def note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


BUILT_IN_NOTE = (
    "Some demo results hold by construction: the generated world draws the emojis into its pictures, and "
    "its Twitter I and FI look-alikes carry emojis that match each image's sentiment, so an embedding that "
    "recognises emojis has its advantage built in. Table 1's Temp vs Raw difference likewise follows from "
    "the skew and the events the world is made with."
)


def demo_note(text: str) -> str:
    """A highlighted line where results come from the demo's generated world."""
    return f'<p class="demo">{esc(text)}</p>'


def details(summary: str, body: str) -> str:
    return f"<details><summary>{esc(summary)}</summary>{body}</details>"


def section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{esc(anchor)}"><h2>{esc(title)}</h2>{body}</section>'


def document(title: str, subtitle: str, sections: list[tuple[str, str, str]]) -> str:
    """The whole page: a header, a table of contents, then the (anchor, title, body) sections."""
    nav = "".join(f'<a href="#{esc(a)}">{esc(t)}</a>' for a, t, _ in sections)
    body = "".join(section(a, t, b) for a, t, b in sections)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{esc(title)}</h1><p>{esc(subtitle)}</p></header>"
        f"<nav>{nav}</nav><main>{body}</main></body></html>\n"
    )


def pct(value: object, std: object = None) -> str:
    """A fraction in [0, 1] as a percentage with one decimal, the report's one unit for every
    metric in tables and figures ("-" when absent); values above 1 are taken as percentages already."""
    if not isinstance(value, (int, float)):
        return "-"
    scale = 100.0 if abs(value) <= 1.0 else 1.0
    text = f"{value * scale:.1f}"
    if isinstance(std, (int, float)):
        text += f" ± {std * scale:.1f}"
    return text
