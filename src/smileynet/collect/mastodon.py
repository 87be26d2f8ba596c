"""Mastodon statuses: REST timelines and streaming `update` events."""

from __future__ import annotations

from html.parser import HTMLParser

from smileynet.collect.post import NOT_A_POST, Deletion, Malformed, Post, alt_of

STATUS_EVENTS = ("update", "status.update")  # a new status; a new version of an edited one


def mastodon(status: dict) -> Post | Deletion | str:
    """A Mastodon status (REST, or a streaming `update` or `status.update` event, whose payload is
    the status as JSON text or as an object), or a streaming `delete` event (its payload: the
    instance-local id of the status); links are `<a>` that are neither mentions nor hashtags.
    An edited status carries `edited_at`: collect keeps the latest version of each."""
    if "payload" in status and "event" in status:
        if status["event"] == "delete":
            return Deletion(f"mastodon:{status['payload']}")
        if status["event"] not in STATUS_EVENTS:
            return NOT_A_POST
        import orjson

        payload = status["payload"]
        status = payload if isinstance(payload, dict) else orjson.loads(payload)
        if not isinstance(status, dict):
            raise Malformed("mastodon event payload is not a status")
    if "content" not in status or "created_at" not in status:
        raise Malformed("mastodon status without content")
    page = _MastodonHTML()
    page.feed(status["content"] or "")
    account = status.get("account") or {}
    media = status.get("media_attachments")
    images = [
        m
        for m in (media if isinstance(media, list) else [])
        if isinstance(m, dict) and m.get("type") == "image" and m.get("url")
    ]
    spoiler = status.get("spoiler_text")
    return Post(
        post_id=str(status.get("uri") or status["id"]),
        source="mastodon",
        created=status["created_at"],
        text=page.text().strip(),
        image_urls=[m["url"] for m in images],
        author_id=str(account.get("url") or account.get("id", "")),
        lang=status.get("language"),
        is_retweet=status.get("reblog") is not None,
        is_quote=status.get("quote") is not None or status.get("quote_id") is not None,
        is_reply=status.get("in_reply_to_id") is not None,
        has_url=page.links > 0,
        has_hashtag=bool(status.get("tags")) or page.hashtags > 0,
        has_mention=bool(status.get("mentions")) or page.mentions > 0,
        delete_key=f"mastodon:{status['id']}" if "id" in status else "",
        sensitive=status.get("sensitive") is True or isinstance(spoiler, str) and bool(spoiler.strip()),
        alt_texts=[alt_of(m, "description") for m in images],
        edited=status.get("edited_at") or None,
    )


class _MastodonHTML(HTMLParser):
    """Text of a status' HTML, and its anchors by kind (mention, hashtag, plain link)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links = self.mentions = self.hashtags = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag == "p" and self.parts:
            self.parts.append("\n\n")
        elif tag == "a":
            values = dict(attrs)
            classes = (values.get("class") or "").split()
            if "hashtag" in classes or "tag" in (values.get("rel") or "").split():
                self.hashtags += 1
            elif "mention" in classes:
                self.mentions += 1
            else:
                self.links += 1

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def text(self) -> str:
        return "".join(self.parts)
