"""A viewer who blocks thousands of accounts, by name and through a blocked server with thousands
of accounts: comments, replies, the feed read from the database and search leave every one of
them out (and the one who blocks the viewer), and no statement carries the blocked list (an
expanded ``NOT IN`` costs a parameter per blocked account, up to the drivers' limit of 32k)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from clipfeed.accounts import service as accounts
from clipfeed.accounts.models import User
from clipfeed.federation import videos
from clipfeed.infra.db import utcnow
from clipfeed.recs import fallback
from clipfeed.recs.viewers import FeedViewer
from clipfeed.social import comments, follows
from clipfeed.social.models import Block
from clipfeed.social.schemas import CommentCreate
from tests.federation.remote_fixtures import remote_account, video_of
from tests.helpers import signup, wait_for
from tests.social.support import largest_statement, ready_clip, stream_role

pytestmark = pytest.mark.timeout(300)
CROWD = "crowd.example"
ON_SERVER, BY_NAME = 2500, 1500  # accounts of the blocked server; other accounts blocked one by one


async def _crowd(services: Any, viewer_id: int) -> None:
    """``ON_SERVER`` accounts of CROWD, and ``BY_NAME`` accounts the viewer blocks one by one."""
    now = utcnow()
    people = [{"id": services.ids.next_id(), "handle": f"crowd{n}@{CROWD}", "domain": CROWD}
              for n in range(ON_SERVER)]
    named = [{"id": services.ids.next_id(), "handle": f"named{n}", "domain": None} for n in range(BY_NAME)]
    async with services.db.session() as session:
        await session.execute(sa.insert(User), [{**row, "role": "user", "email": None, "password_hash": None}
                                                for row in people + named])
        await session.execute(sa.insert(Block), [{"blocker_id": viewer_id, "blocked_id": row["id"],
                                                  "id": services.ids.next_id(), "created_at": now} for row in named])


async def _bodies(client: Any, path: str, auth: dict[str, str] | None = None) -> list[str]:
    page = await client.get(path, headers=auth or {})
    assert page.status_code == 200, page.text
    return sorted(c["body"] for c in page.json()["items"])


async def test_thousands_of_blocked_accounts_stay_out_of_comments_feed_and_search(client, services) -> None:
    alice, carl, fran, nora, hugo = [await signup(client, name) for name in ("alice", "carl", "fran", "nora", "hugo")]
    users = await accounts.get_many(db=services.db, user_ids=[carl.id, fran.id, nora.id, hugo.id])
    cora = await remote_account(services, "cora", server=CROWD)  # one of the blocked server's people
    await follows.follow(services=services, follower=users[carl.id], followee=cora)  # so her clip is taken
    await _crowd(services, alice.id)
    assert (await client.put(f"/v1/users/{nora.id}/block", headers=alice.auth)).status_code == 200
    assert (await client.put(f"/v1/users/{alice.id}/block", headers=hugo.auth)).status_code == 200
    blocked = await client.post("/v1/me/domain-blocks", headers=alice.auth, json={"domain": CROWD})
    assert blocked.status_code == 200, blocked.text

    async with stream_role(services=services):
        clip = await ready_clip(client, services, carl, caption="harbour at dawn")
        for who, caption in ((nora, "harbour by nora"), (hugo, "harbour by hugo")):
            await ready_clip(client, services, who, caption=caption)
        assert await videos.store(video_of("cora", 1, server=CROWD, caption="harbour by cora"), sender=cora,
                                  services=services) is not None
        said = {}
        for author, body in ((users[fran.id], "fran"), (users[nora.id], "nora"), (users[hugo.id], "hugo"),
                             (cora, "cora")):
            said[body] = (await comments.create(services=services, user=author, clip_id=int(clip),
                                                request=CommentCreate(body=body))).id
        for author, body in ((users[fran.id], "fran again"), (users[nora.id], "nora again"), (cora, "cora again")):
            await comments.create(services=services, user=author, clip_id=int(clip),
                                  request=CommentCreate(body=body, parent_id=said["fran"]))

        async def searched(auth: dict[str, str] | None) -> list[str]:
            found = await client.get("/v1/search", params={"q": "harbour", "type": "clips"}, headers=auth or {})
            assert found.status_code == 200, found.text
            return sorted(hit["clip"]["caption"] for hit in found.json()["clips"])

        async def indexed() -> bool:
            return len(await searched(None)) == 3  # the remote clip is not in discovery

        await wait_for(indexed, timeout=60)
        comments_path, replies_path = f"/v1/clips/{clip}/comments", f"/v1/clips/{clip}/comments/{said['fran']}/replies"
        with largest_statement(services) as counts:
            assert await _bodies(client, comments_path, alice.auth) == ["fran"]
            assert await _bodies(client, f"{comments_path}?sort=new", alice.auth) == ["fran"]
            assert await _bodies(client, replies_path, alice.auth) == ["fran again"]
            page = await fallback.newest_page(FeedViewer.signed_in(alice.id), services=services, cursor=None,
                                              limit=20)
            assert await searched(alice.auth) == ["harbour at dawn"]
        assert counts and max(counts) < 50, max(counts)
        assert {item.creator_id for item in page.items} == {carl.id}
        # Nobody else's view changes.
        assert await _bodies(client, comments_path) == ["cora", "fran", "hugo", "nora"]
        assert await _bodies(client, replies_path) == ["cora again", "fran again", "nora again"]
        anonymous = await fallback.newest_page(FeedViewer.anonymous("device-1"), services=services, cursor=None,
                                               limit=20)
        assert {item.creator_id for item in anonymous.items} == {carl.id, nora.id, hugo.id, cora.id}
        assert await searched(fran.auth) == ["harbour at dawn", "harbour by hugo", "harbour by nora"]
