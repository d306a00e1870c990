"""Two regions on one machine, as ``bench/regions.py`` sets them up: region A holds the data
(PostgreSQL primary, Redis, NATS, an API process), region B a streaming replica of it and an
API process of its own (``CLIPFEED_REGION=b``), each in a network namespace, joined by a link
that delays every packet 40 ms each way and can be cut (packets vanish, as on a failed WAN link).

What a viewer in B notices: pages that tolerate staleness come from B's replica; a comment
written from B lands on the primary in A and its writer sees it at once; with the link cut,
B's profile pages still answer (marked stale), signed-in ones too (a clip page and its comments
included: their block checks read the replica as well) for as long as the replica is within the
bound for checking tokens and blocks, while writes answer 503 problem+json within a bounded
time, and once the link is back writes work again, with no restart."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterator

import psycopg
import pytest
from bench.regions_stack import TwoRegions

from tests.helpers import assert_problem

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
REPLICA_READS = ("clipfeed_db_reads_total", {"target": "replica", "reason": "replica"})
# What the first write after a cut may take before its 503, as documented (docs/operate/
# regions.md, "Timeouts"): the token check's cache call (2 s), then the database's: a pooled
# connection given up after 5 s of silence (tcp_user_timeout), a new one after 3 s
# (connect_timeout): 10 s, and a little for a busy machine. Once the breakers are open, a write
# fails at once.
FIRST_FAILURE_S = 12.0
# Region B's bound for the replica's answer to "whose token is this" while the primary does not
# answer (CLIPFEED_DATABASE_REPLICA_ACCESS_MAX_STALE_S, 60 s by default): short here, so that
# the test sees signed-in pages refused once the replica is further behind than that.
ACCESS_BOUND_S = 20.0


@pytest.fixture(scope="module")
def regions() -> Iterator[TwoRegions]:
    assert os.geteuid() == 0, "this test makes network namespaces and devices: run the suite as root (CI does)"
    with TwoRegions(delay_ms=40, b_settings={
            "CLIPFEED_DATABASE_REPLICA_ACCESS_MAX_STALE_S": str(ACCESS_BOUND_S)}) as made:
        yield made


@pytest.fixture(scope="module")
def people(regions: TwoRegions) -> dict[str, object]:
    creator = regions.accounts("rcreator", 1)[0]
    return {"creator": creator, "clip": regions.ready_clip(creator[1], "seen from two regions"),
            "writers": regions.accounts("rwriter", 8), "reader": regions.accounts("rreader", 1)[0]}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def on_primary(regions: TwoRegions, query: str, *args: object) -> object:
    with psycopg.connect(regions.admin_url, autocommit=True) as conn:
        row = conn.execute(query, args).fetchone()
    return row[0] if row else None


def comment_bodies(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    return [item["body"] for item in response.json()["items"]]


def test_a_viewer_in_b_reads_b_s_replica_and_a_writer_reads_its_comment_back_at_once(regions, people) -> None:
    b, a = regions.client(regions.b), regions.client(regions.a)
    handle, clip = people["creator"][0], people["clip"]  # type: ignore[index]

    # An anonymous profile read in B is served by B's replica (a new API measures its lag first)
    deadline = time.monotonic() + 15
    while True:
        before = b.metric(REPLICA_READS[0], **REPLICA_READS[1])
        profile = b.request("GET", f"/v1/users/{handle}")
        assert profile.status_code == 200, profile.text
        assert profile.json()["handle"] == handle and "clipfeed-stale" not in profile.headers
        if b.metric(REPLICA_READS[0], **REPLICA_READS[1]) > before:
            break
        assert time.monotonic() < deadline, "B's API never read its replica"
        time.sleep(0.3)

    # A comment written through B's API lands on the primary in A, and its writer reads it back
    # from B at once (its write position is in the shared cache: B reads the primary or waits
    # for its replica)
    writer = people["writers"][0][1]  # type: ignore[index]
    written = b.request("POST", f"/v1/clips/{clip}/comments", json={"body": "written in B"}, headers=auth(writer))
    assert written.status_code == 201, written.text
    assert on_primary(regions, "SELECT body FROM comments WHERE id = %s", int(written.json()["id"])) == "written in B"
    assert "written in B" in comment_bodies(b.request("GET", f"/v1/clips/{clip}/comments", headers=auth(writer)))

    # The same from B's viewer writing straight to the home region's API, read back from B's
    written = a.request("POST", f"/v1/clips/{clip}/comments", json={"body": "sent home"}, headers=auth(writer))
    assert written.status_code == 201, written.text
    assert "sent home" in comment_bodies(b.request("GET", f"/v1/clips/{clip}/comments", headers=auth(writer)))
    # and everyone else in B sees both once the replica has them (it streams across the link)
    deadline = time.monotonic() + 10
    while not {"written in B", "sent home"} <= set(comment_bodies(b.request("GET", f"/v1/clips/{clip}/comments"))):
        assert time.monotonic() < deadline, "B's replica never showed the comments"
        time.sleep(0.3)


def test_with_the_link_cut_b_serves_stale_pages_refuses_writes_clearly_and_recovers(regions, people) -> None:
    b, a = regions.client(regions.b), regions.client(regions.a)
    handle, clip = people["creator"][0], people["clip"]  # type: ignore[index]
    writers = itertools.cycle(token for _, token in people["writers"])  # type: ignore[attr-defined]
    assert regions.link is not None
    assert b.request("GET", f"/v1/users/{handle}").status_code == 200

    reader = people["reader"][1]  # type: ignore[index]
    own_clips = f"/v1/users/{handle}/clips"
    assert b.request("GET", own_clips, headers=auth(reader)).status_code == 200

    regions.link.cut()
    cut_at = time.monotonic()
    stale_seen, refusals, signed_in, clip_pages = 0, [], [], 0
    while len(refusals) < 8 or time.monotonic() - cut_at < 12:
        # A signed-in page that tolerates staleness: its token check reads B's replica too (in
        # the first seconds, until the primary counts as unreachable, it may answer 503)
        page = b.request("GET", own_clips, headers=auth(reader))
        if page.status_code == 200:
            assert page.headers.get("clipfeed-stale", "").startswith("primary-unreachable;up-to=")
            assert [c["id"] for c in page.json()["items"]] == [str(clip)]
            signed_in.append(time.monotonic() - cut_at)
            # and so do the clip's own page and its comments, whose block checks read the replica
            for path in (f"/v1/clips/{clip}", f"/v1/clips/{clip}/comments"):
                shown = b.request("GET", path, headers=auth(reader))
                if shown.status_code == 200:
                    assert shown.headers.get("clipfeed-stale", "").startswith("primary-unreachable;up-to=")
                    clip_pages += 1
                else:  # only once past the bound, as for the page above
                    assert_problem(shown, 503)
                    assert time.monotonic() - cut_at > ACCESS_BOUND_S - 3, shown.text
        else:
            assert_problem(page, 503)
        # B's profile pages keep answering from B's replica; once the primary is known to be
        # unreachable, each says how stale it may be
        profile = b.request("GET", f"/v1/users/{handle}")
        assert profile.status_code == 200, profile.text
        assert profile.json()["handle"] == handle
        if "clipfeed-stale" in profile.headers:
            assert profile.headers["clipfeed-stale"].startswith("primary-unreachable;up-to=")
            stale_seen += 1
        # a write fails with a 503 problem+json that says when to retry, never a hang or a 500
        sent = time.monotonic()
        refused = b.request("POST", f"/v1/clips/{clip}/comments", json={"body": f"cut {sent}"},
                            headers=auth(next(writers)))
        refusals.append(time.monotonic() - sent)
        body = assert_problem(refused, 503)
        assert body["type"].endswith("/unavailable") and refused.headers["retry-after"]
        time.sleep(0.2)  # a reader's pace, not a wait for anything
    # The first writes find the link dead (each of those takes up to the timeouts above); once
    # the cache's and the database's breakers are open, a write is refused at once
    assert max(refusals) < FIRST_FAILURE_S, refusals
    assert max(refusals[6:]) < 1.5, refusals
    assert stale_seen >= 3
    # Region A, the home of the data, noticed nothing
    assert a.request("POST", f"/v1/clips/{clip}/comments", json={"body": "home during the cut"},
                     headers=auth(next(writers))).status_code == 201
    assert on_primary(regions, "SELECT count(*) FROM comments WHERE body LIKE 'cut %%'") == 0
    # Signed-in pages were served, stale-marked, from the moment the primary counted as down...
    assert len(signed_in) >= 3, signed_in
    assert clip_pages >= 4, clip_pages
    # ...and only while B's replica was within ACCESS_BOUND_S of the primary's last answer: past
    # that, a token revoked in region A meanwhile could be taken for live, so they are refused
    while True:
        page = b.request("GET", own_clips, headers=auth(reader))
        if page.status_code != 200:
            assert assert_problem(page, 503)["type"].endswith("/unavailable") and page.headers["retry-after"]
            break
        assert "clipfeed-stale" in page.headers
        assert time.monotonic() - cut_at < ACCESS_BOUND_S + 3, "a signed-in page served past the bound"
        time.sleep(0.5)
    # while anonymous pages are still served
    assert "clipfeed-stale" in b.request("GET", f"/v1/users/{handle}").headers

    regions.link.restore()
    restored_at = time.monotonic()
    # Writes from B work again once the database's breaker lets a trial through (every
    # CLIPFEED_BREAKER_OPEN_S, 10 s), and the writer reads its comment back; no restart
    while True:
        writer = next(writers)
        written = b.request("POST", f"/v1/clips/{clip}/comments", json={"body": "after the cut"},
                            headers=auth(writer))
        if written.status_code == 201:
            break
        assert_problem(written, 503)
        assert time.monotonic() - restored_at < 30, "writes from B did not come back within 30 s"
        time.sleep(1)
    assert "after the cut" in comment_bodies(b.request("GET", f"/v1/clips/{clip}/comments", headers=auth(writer)))
    # and B's pages are no longer marked stale, signed-in ones included
    deadline = time.monotonic() + 10
    while "clipfeed-stale" in b.request("GET", f"/v1/users/{handle}").headers:
        assert time.monotonic() < deadline, "B's pages still marked stale 10 s after writes came back"
        time.sleep(0.3)
    page = b.request("GET", own_clips, headers=auth(reader))
    assert page.status_code == 200 and "clipfeed-stale" not in page.headers, page.text
