"""Signing keys across processes: a key rotated elsewhere replaces this process's copy."""

from __future__ import annotations

from clipfeed.federation import keys
from clipfeed.federation.models import ActorKey
from clipfeed.federation.signatures import generate_key_pair


async def test_a_key_rotated_by_another_process_is_picked_up_after_a_refusal(services) -> None:
    first = await keys.signer_for(7, services=services)
    private, public = generate_key_pair()
    async with services.db.session() as session:  # what `clipfeed federation rotate-key` does elsewhere
        stored = await session.get(ActorKey, 7)
        assert stored is not None
        stored.private_pem, stored.public_pem = private, public
    assert (await keys.signer_for(7, services=services)).public_pem == first.public_pem  # this process's copy
    keys.forget(7, services=services)  # what a delivery refused with 401 does
    assert (await keys.signer_for(7, services=services)).public_pem == public


async def test_rotating_here_signs_with_the_new_key_at_once(services) -> None:
    before = await keys.signer_for(8, services=services)
    public = await keys.rotate(8, services=services)
    after = await keys.signer_for(8, services=services)
    assert public != before.public_pem and after.public_pem == public
