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


async def test_senders_starting_together_share_one_key_and_it_signs(services) -> None:
    """A delivery loop starts many sends at once on a cold process: they get one key, made and
    stored once, and it signs what the public key it publishes verifies."""
    import asyncio

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    from clipfeed.federation.signatures import load_public_key

    signers = await asyncio.gather(*(keys.signer_for(9, services=services) for _ in range(32)))
    assert len({id(signer) for signer in signers}) == 1
    async with services.db.session() as session:
        stored = await session.get(ActorKey, 9)
    assert stored is not None and stored.public_pem == signers[0].public_pem
    signature = signers[0].private_key.sign(b"hello", padding.PKCS1v15(), hashes.SHA256())
    load_public_key(stored.public_pem).verify(signature, b"hello", padding.PKCS1v15(), hashes.SHA256())


async def test_a_reload_that_finds_the_same_key_keeps_it_and_a_rotated_one_replaces_it(services,
                                                                                     monkeypatch) -> None:
    first = await keys.signer_for(10, services=services)
    monkeypatch.setattr(keys, "LOADED_TTL_S", 0.0)  # every call reads the row again
    assert await keys.signer_for(10, services=services) is first
    private, public = generate_key_pair()
    async with services.db.session() as session:
        stored = await session.get(ActorKey, 10)
        assert stored is not None
        stored.private_pem, stored.public_pem = private, public
    assert (await keys.signer_for(10, services=services)).public_pem == public
