"""The share page ``/share/c/{clip_id}``: HTML for people and link-preview crawlers.

Open Graph and Twitter card tags point at the poster (so previews show it) and, when the clip
has one, the MP4 fallback (``og:video``; ``twitter:card=player`` with an embeddable player at
``/share/c/{id}/embed``). Only ready public or unlisted clips have a page; unlisted ones ask
search engines not to index it. Every value placed in the HTML is escaped.
"""

from __future__ import annotations

from html import escape

from clipfeed.clips.models import Clip, Visibility

SITE = "Clipfeed"
CSP = ("default-src 'none'; img-src 'self' https: data:; media-src 'self' https: blob:; "
       "style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors *")
STYLE = ("body{margin:0;font-family:system-ui,sans-serif;background:#111;color:#eee;display:flex;"
         "flex-direction:column;align-items:center}main{max-width:420px;padding:16px}"
         "video,img{width:100%;border-radius:12px;background:#000}a{color:#7cc4ff}")


def _absolute(base_url: str, path: str) -> str:
    return path if path.startswith(("http://", "https://")) else f"{base_url.rstrip('/')}{path}"


def _meta(attr: str, name: str, value: str | int | None) -> str:
    if value is None or value == "":
        return ""
    return f'<meta {attr}="{escape(name)}" content="{escape(str(value))}">'


def _texts(clip: Clip, handle: str) -> tuple[str, str]:
    caption = " ".join((clip.caption or "").split())
    title = f"@{handle} on {SITE}"
    description = caption[:197] + "…" if len(caption) > 200 else caption or f"Watch @{handle}'s clip on {SITE}."
    return title, description


def render(*, clip: Clip, handle: str, base_url: str, media: dict[str, str], embed: bool = False) -> str:
    """``media``: the clip's URLs as an anonymous viewer gets them (signed for unlisted clips)."""
    urls = {name: _absolute(base_url, url) for name, url in media.items()}
    page = f"{base_url.rstrip('/')}/share/c/{clip.id}"
    title, description = _texts(clip, handle)
    poster, mp4 = urls.get("poster"), urls.get("mp4")
    video = mp4 or urls.get("hls")
    video_type = "video/mp4" if mp4 else "application/vnd.apple.mpegurl" if video else None
    tags = [
        _meta("property", "og:site_name", SITE), _meta("property", "og:type", "video.other" if video else "website"),
        _meta("property", "og:url", page), _meta("property", "og:title", title),
        _meta("property", "og:description", description), _meta("property", "og:image", poster),
        _meta("property", "og:image:alt", description),
        _meta("property", "og:video", video), _meta("property", "og:video:type", video_type),
        _meta("property", "og:video:width", clip.width if video else None),
        _meta("property", "og:video:height", clip.height if video else None),
        _meta("name", "twitter:card", "player" if mp4 else "summary_large_image"),
        _meta("name", "twitter:title", title), _meta("name", "twitter:description", description),
        _meta("name", "twitter:image", poster),
    ]
    if video and video.startswith("https://"):
        tags.append(_meta("property", "og:video:secure_url", video))
    if mp4:
        tags += [_meta("name", "twitter:player", f"{page}/embed"),
                 _meta("name", "twitter:player:width", clip.width or 720),
                 _meta("name", "twitter:player:height", clip.height or 1280),
                 _meta("name", "twitter:player:stream", mp4),
                 _meta("name", "twitter:player:stream:content_type", "video/mp4")]
    if clip.visibility == Visibility.unlisted.value:
        tags.append(_meta("name", "robots", "noindex"))
    if mp4:
        poster_attr = f' poster="{escape(poster)}"' if poster else ""
        player = f'<video controls playsinline preload="metadata" src="{escape(mp4)}"{poster_attr}></video>'
    elif poster:
        player = f'<img src="{escape(poster)}" alt="{escape(description)}">'
    else:
        player = ""
    body = player if embed else (
        f"<main>{player}<h1>{escape(title)}</h1><p>{escape(description)}</p>"
        f'<p><a href="{escape(base_url.rstrip("/"))}/?clip={clip.id}">Open in {SITE}</a></p></main>')
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{escape(title)}</title>{''.join(t for t in tags if t)}"
            f'<link rel="canonical" href="{escape(page)}"><style>{STYLE}</style></head><body>{body}</body></html>')


def render_missing() -> str:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">'
            f"<title>Clip not found · {SITE}</title><style>{STYLE}</style></head><body><main>"
            "<h1>This clip is not available</h1><p>It may have been removed or made private.</p>"
            "</main></body></html>")
