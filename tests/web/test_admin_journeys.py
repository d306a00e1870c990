"""The admin console (/admin) and the moderators' block-by-file used as people use them:
Playwright driving Debian's Chromium against the journeys' real server (conftest.py), with an
admin, a moderator and a viewer seeded. The journeys change the shared server's settings, so
every override is reset afterwards. Screenshots (390×844 first, then 1440×900) land in
tests/web/artifacts/admin/."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.services import shared_media
from tests.web.conftest import ARTIFACTS, WebStack, run_journeys, seen

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"
ADMIN = {"handle": "ada_admin", "password": PASSWORD}
MODERATOR = {"handle": "mo_moderates", "password": PASSWORD}
VIEWER = {"handle": "vic_views", "password": PASSWORD}
NEWCOMER = {"handle": "noor_joins", "password": PASSWORD}
OVERRIDABLE = ["instance_name", "instance_description", "registration_mode", "upload_max_bytes",
               "upload_max_duration_s", "screening_policy"]


async def _seed(stack: WebStack) -> None:
    from clipfeed.accounts import service as accounts
    from clipfeed.accounts.models import Role
    from clipfeed.bootstrap import bootstrap
    from clipfeed.settings import Settings

    assert stack.data_dir is not None
    services = await bootstrap(Settings(data_dir=stack.data_dir, log_json=False, inprocess_workers="none",
                                        public_url=stack.url))
    try:
        for role, who in ((Role.admin, ADMIN), (Role.moderator, MODERATOR), (Role.user, VIEWER)):
            await accounts.create_user(db=services.db, outbox=services.outbox, ids=services.ids,
                                       settings=services.settings, email=f"{who['handle']}@example.com", **who)
            if role is not Role.user:
                await accounts.set_role(db=services.db, cache=services.cache, handle=who["handle"], role=role)
        await services.outbox.flush()
    finally:
        await services.close()


def _as_admin(url: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30)
    login = client.post("/v1/auth/login", json={"login": ADMIN["handle"], "password": PASSWORD}).json()
    client.headers["Authorization"] = f"Bearer {login['access_token']}"
    return client


@pytest.fixture(scope="module")
def journeys(web_stack: WebStack) -> Iterator[dict[str, dict[str, Any]]]:
    asyncio.run(_seed(web_stack))
    setup = {"url": web_stack.url, "admin": ADMIN, "moderator": MODERATOR, "viewer": VIEWER, "newcomer": NEWCOMER,
             "blockFile": str(shared_media() / "bikes.mp4"),
             "chromiumArgs": ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]}
    try:
        yield run_journeys("admin_journeys.mjs", setup, "admin")
    finally:
        admin = _as_admin(web_stack.url)  # the other journeys on this server expect its defaults
        try:
            for name in OVERRIDABLE:
                assert admin.delete(f"/v1/admin/settings/{name}").status_code == 200
        finally:
            admin.close()


def test_an_admin_renames_the_instance_and_closes_sign_up(journeys) -> None:
    result = seen(journeys, "rename_and_close")
    assert result["adminTitle"] == "Harbour Clips" and result["overridden"] == "true"
    assert "Environment (CLIPFEED_INSTANCE_NAME): Clipfeed" in result["environment"]
    closed = result["closed"]
    assert closed["title"] == "Harbour Clips"
    assert closed["notice"] == "Sign-up is closed on Harbour Clips. Ask its admins if you need an account."
    assert closed["fields"] == [] and closed["submit"] == 0


def test_an_invite_code_lets_one_person_sign_up(journeys, web_stack) -> None:
    result = seen(journeys, "invite_only")
    assert result["notice"] == "Harbour Clips is invite-only: enter the code an admin gave you."
    assert result["fields"][0] == "invite_code"
    assert result["signedUpAs"] == NEWCOMER["handle"]
    assert (result["firstPage"], result["usedOnFirstPage"]) == (20, 0)  # a page of 20; the rest behind "Load more"
    assert result["state"] == "used" and f"Used by @{NEWCOMER['handle']}" in result["meta"]
    assert "Noor from the harbour club" in result["meta"]
    again = httpx.post(f"{web_stack.url}/v1/auth/register", timeout=10, json={
        "handle": "noor_twin", "email": "twin@example.com", "password": PASSWORD, "invite_code": result["code"]})
    assert again.status_code == 403 and again.json()["reason"] == "invite-invalid"


def test_lowering_the_longest_clip_changes_the_create_page(journeys) -> None:
    result = seen(journeys, "lower_limits")
    assert result["refused"] == "Enter a positive number."
    assert result["recorderMax"] == "20"


def test_the_bill_health_screening_and_audit_sections(journeys) -> None:
    result = seen(journeys, "bill_health_audit")
    assert [row[0] for row in result["tiers"]] == ["Hot", "Warm", "Cold"]
    assert all(row[-1].startswith("$") for row in result["tiers"]) and result["total"].startswith("Total per month: $")
    assert result["ready"] == "All dependencies answer."
    assert {name for name, _ in result["roles"]} == {"media", "stream", "batch", "lifecycle", "federation"}
    assert result["policyRefused"] == "A hold threshold cannot be above its reject threshold."
    audit = [" ".join(row) for row in result["audit"]]
    assert "@ada_admin changed Instance name Clipfeed → Harbour Clips" in audit
    assert "@ada_admin changed Who can sign up closed → invite" in audit
    assert "@ada_admin changed Longest clip (seconds) 600 → 20" in audit
    assert any(line.startswith("@ada_admin created invite ") and line.endswith("Noor from the harbour club")
               for line in audit)


def test_someone_who_is_not_an_admin_gets_no_console_and_403_from_its_api(journeys) -> None:
    result = seen(journeys, "not_an_admin")
    for who in ("moderator", "viewer"):
        seen_by = result[who]
        assert seen_by["denied"] == "Only admins can open the admin console."
        assert seen_by["tabs"] == 0 and seen_by["uiRequests"] == 0
        assert len(seen_by["api"]) == 8
        for route, answer in seen_by["api"].items():
            assert answer == {"status": 403, "type": "application/problem+json"}, (who, route)


def test_a_moderator_blocklists_a_video_file(journeys, web_stack) -> None:
    result = seen(journeys, "block_by_file")
    assert "Known scam video, sent by a partner" in result["text"] and "@mo_moderates" in result["text"]
    assert "from clip" not in result["text"]


def test_admin_screenshots_at_phone_then_desktop_size(journeys) -> None:
    names = {path.name for path in (ARTIFACTS / "admin").glob("*.png")}
    assert {"admin-instance-390x844.png", "admin-registration-390x844.png", "admin-registration-1440x900.png",
            "signup-closed-390x844.png", "signup-invite-390x844.png", "admin-limits-390x844.png",
            "admin-limits-1440x900.png", "admin-storage-390x844.png", "admin-health-390x844.png",
            "admin-audit-390x844.png", "admin-audit-1440x900.png", "admin-denied-viewer-390x844.png",
            "mod-block-file-390x844.png", "mod-block-file-1440x900.png"} <= names
