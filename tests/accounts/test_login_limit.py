"""The per-account sign-in limit counts tries on the account, whatever name reaches it."""

from __future__ import annotations

import httpx

from tests.helpers import PASSWORD, assert_problem, hold_rate_clock, signup


async def test_padding_case_or_the_email_address_do_not_reset_the_account_limit(
        client: httpx.AsyncClient, services) -> None:
    await signup(client, "erin")
    hold_rate_clock(services=services)
    limit = services.settings.login_rate_per_minute
    for _ in range(limit):
        wrong = await client.post("/v1/auth/login", json={"login": "erin", "password": "not the password"})
        assert wrong.status_code == 401
    for other_name in (" erin", "erin ", "ERIN", "erin@example.com", " Erin@Example.com "):
        answer = await client.post("/v1/auth/login", json={"login": other_name, "password": PASSWORD})
        assert_problem(answer, 429)


async def test_unknown_names_share_a_bucket_once_normalised(client: httpx.AsyncClient,
                                                            services) -> None:
    hold_rate_clock(services=services)
    limit = services.settings.login_rate_per_minute
    for i in range(limit):
        name = ("nobody", " nobody", "NOBODY ")[i % 3]
        assert (await client.post("/v1/auth/login", json={"login": name, "password": "x"})).status_code == 401
    assert_problem(await client.post("/v1/auth/login", json={"login": "  NoBody", "password": "x"}), 429)
