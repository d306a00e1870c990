"""Serving the built web app: its files, the app for every app path (the browser-side router
takes over), and Swagger UI and ReDoc from packaged assets (no CDN: ``/docs`` works offline).

Routed last, so every server path (``/v1``, ``/media``, ``/share``, ``/healthz`` …) wins; paths
under those prefixes that match nothing stay problem+json 404s instead of becoming the app.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from clipfeed.core.errors import NotFound
from clipfeed.http.problems import allowed_methods

router = APIRouter(include_in_schema=False)
DIST = Path(__file__).resolve().parent / "dist"
DOCS_ASSETS = "/api-docs"
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".json": "application/json", ".webmanifest": "application/manifest+json",
         ".svg": "image/svg+xml", ".png": "image/png", ".txt": "text/plain; charset=utf-8"}
# Vite names built assets by content hash: they never change under one name.
IMMUTABLE = "public, max-age=31536000, immutable"
# The shell, the service worker and the manifest name the current hashes: always revalidated.
REVALIDATE = "no-cache"
# Server routes outside the API document (include_in_schema=False) or its own files.
UNDOCUMENTED_SEGMENTS = {"v1", "media", "share", "app", "docs", "redoc", "openapi.json", "healthz", "readyz",
                         "metrics", "ap", ".well-known", "nodeinfo"}
NOT_BUILT = """<!doctype html><html lang="en"><meta charset="utf-8"><title>Clipfeed</title>
<p>The web app is not built. From a checkout, run <code>make demo</code> (or <code>cd web &amp;&amp; npm ci &amp;&amp;
npm run build</code>); the API is at <a href="/docs">/docs</a>.</p></html>"""


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(openapi_url=str(request.app.openapi_url), title="Clipfeed API",
                               swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                               swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                               swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png")


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    return get_redoc_html(openapi_url=str(request.app.openapi_url), title="Clipfeed API",
                          redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
                          redoc_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png", with_google_fonts=False)


@router.api_route("/{path:path}", methods=["GET", "HEAD"])
async def app_file(path: str, request: Request) -> Response:
    if path.split("/", 1)[0] in _server_segments(request.app):
        # A server path no route took: 405 where other methods are served there, else 404.
        if allowed_methods(request.app, f"/{path}"):
            raise StarletteHTTPException(405)
        raise NotFound(f"no route /{path}")
    file = _built_file(path)
    if file is not None:
        cache = IMMUTABLE if path.startswith("assets/") else REVALIDATE
        return FileResponse(file, media_type=TYPES[file.suffix], headers={"Cache-Control": cache})
    last = path.rsplit("/", 1)[-1]
    if "." in last and not last.startswith("@"):  # ``@name@server.example`` is a profile, not a file
        raise NotFound(f"no file /{path}")  # a missing asset is a 404, never the app
    index = DIST / "index.html"
    if not index.is_file():
        return HTMLResponse(NOT_BUILT, status_code=503, headers={"Cache-Control": REVALIDATE})
    return FileResponse(index, media_type=TYPES[".html"], headers={"Cache-Control": REVALIDATE})


def _server_segments(app: FastAPI) -> frozenset[str]:
    """First path segments that belong to the server: those of the API document's paths (``v1``
    …) and of the routes it leaves out; the app never answers under them."""
    segments: frozenset[str] | None = getattr(app.state, "server_segments", None)
    if segments is None:
        documented = (path.strip("/").split("/", 1)[0] for path in app.openapi().get("paths", {}))
        segments = frozenset({*documented, *UNDOCUMENTED_SEGMENTS} - {""})
        app.state.server_segments = segments
    return segments


def _built_file(path: str) -> Path | None:
    if not path:
        return None
    candidate = (DIST / path).resolve()
    if DIST.resolve() not in candidate.parents or not candidate.is_file() or candidate.suffix not in TYPES:
        return None
    return candidate
