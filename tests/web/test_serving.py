"""``clipfeed serve`` serves the built app at ``/`` (every app path answers the app), keeps every
server path its own, and serves the API docs from packaged assets (nothing from a CDN)."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.web.conftest import DIST, ROOT, built_app

APP_PATHS = ["/", "/following", "/@maker", "/@maker@videos.example:8443",
             "/c/123", "/?clip=123", "/notifications", "/settings", "/anything/else"]


@pytest.fixture(scope="module", autouse=True)
def app_is_built() -> None:
    built_app()


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The app on embedded engines; what is tested here does not depend on the engines."""
    from clipfeed.api import create_app
    from clipfeed.settings import Settings

    app = create_app(Settings(data_dir=tmp_path, inprocess_workers="none", log_json=False))
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.mark.parametrize("path", APP_PATHS)
async def test_every_app_path_answers_the_app(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<div id="app">' in response.text
    assert response.headers["cache-control"] == "no-cache"  # a new build is picked up at once


async def test_server_paths_stay_the_servers(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/openapi.json")).json()["info"]["title"] == "Clipfeed API"
    assert (await client.get("/metrics")).status_code == 200
    for path in ("/v1/no-such-thing", "/media/no/such.m4s", "/share/nothing", "/readyz/extra"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json", path


async def test_built_assets_are_served_immutable_and_missing_ones_are_404(client: httpx.AsyncClient) -> None:
    index = (await client.get("/")).text
    script = re.search(r'src="(/assets/[^"]+\.js)"', index)
    assert script, index
    asset = await client.get(script.group(1))
    assert asset.status_code == 200 and asset.headers["content-type"].startswith("text/javascript")
    assert "immutable" in asset.headers["cache-control"]
    missing = await client.get("/assets/not-built.js")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    for path in ("/manifest.webmanifest", "/sw.js", "/icon-192.png"):
        response = await client.get(path)
        assert response.status_code == 200 and response.headers["cache-control"] == "no-cache", path


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_api_docs_load_only_packaged_assets(client: httpx.AsyncClient, page: str) -> None:
    html = (await client.get(page)).text
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(src.startswith("/") for src in sources), sources  # nothing from another host
    assert not re.search(r"https?://", html.replace("http://test", "")), html
    for src in sources:
        assert (await client.get(src)).status_code == 200, src


def test_the_package_ships_every_file_type_the_build_emits() -> None:
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["clipfeed"]
    for file in DIST.rglob("*"):
        if file.is_file():
            relative = file.relative_to(ROOT / "src" / "clipfeed").as_posix()
            assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), relative


async def test_the_share_pages_open_in_clipfeed_link_opens_the_app(client: httpx.AsyncClient) -> None:
    from clipfeed.social import share_page

    source = (ROOT / "src" / "clipfeed" / "social" / "share_page.py").read_text()
    assert "/?clip={clip.id}" in source, share_page.__name__  # the link the app's router reads
    response = await client.get("/?clip=387717443293515776")
    assert '<div id="app">' in response.text
