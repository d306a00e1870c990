"""HTTP signatures between servers: what we sign, a peer's inbox accepts; what a peer signs (the
Cavage draft as Mastodon uses it, or RFC 9421), our inbox accepts; anything altered, stale, or
signed by someone else is refused with the status the peer is told."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from http_message_signatures import HTTPMessageSigner, MappingKeyResolver, algorithms

from clipfeed.federation.signatures import (
    SignatureError,
    digest_header,
    generate_key_pair,
    key_id_of,
    load_private_key,
    load_public_key,
    sign_request,
    verify_request,
)

KEY_ID = "https://peer.example/users/alice#main-key"
INBOX = "https://clips.example/users/bob/inbox"
ACTIVITY = b'{"type":"Follow","actor":"https://peer.example/users/alice","object":"https://clips.example/users/bob"}'
NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


@dataclass
class Keys:
    private: RSAPrivateKey
    public: RSAPublicKey


def _keys() -> Keys:
    private_pem, public_pem = generate_key_pair()
    return Keys(load_private_key(private_pem), load_public_key(public_pem))


@pytest.fixture(scope="module")
def alice() -> Keys:
    return _keys()


@pytest.fixture(scope="module")
def mallory() -> Keys:
    return _keys()


def _signed_post(keys: Keys, *, now: datetime) -> dict[str, str]:
    return sign_request(method="POST", url=INBOX, body=ACTIVITY, key_id=KEY_ID, private_key=keys.private,
                        headers={"Content-Type": "application/activity+json"}, now=now)


def _verify(headers: dict[str, str], keys: Keys, *, body: bytes = ACTIVITY, method: str = "POST",
            target: str = "/users/bob/inbox", now: datetime = NOW) -> None:
    verify_request(method=method, target=target, headers=headers, body=body, public_key=keys.public, now=now)


def _refusal(headers: dict[str, str], keys: Keys, **kwargs: Any) -> SignatureError:
    with pytest.raises(SignatureError) as refused:
        _verify(headers, keys, **kwargs)
    return refused.value


def _cavage(keys: Keys, lines: list[tuple[str, str]], *, algorithm: str = "rsa-sha256", extra: str = "") -> str:
    """A Cavage signature built by hand, independently of ``sign_request``."""
    signing_string = "\n".join(f"{name}: {value}" for name, value in lines).encode()
    signature = base64.b64encode(keys.private.sign(signing_string, padding.PKCS1v15(), hashes.SHA256())).decode()
    names = " ".join(name for name, _ in lines)
    return f'keyId="{KEY_ID}",algorithm="{algorithm}",headers="{names}",{extra}signature="{signature}"'


def test_a_signed_post_verifies_and_carries_what_mastodon_expects(alice: Keys) -> None:
    headers = _signed_post(alice, now=NOW)
    assert headers["Host"] == "clips.example"
    assert headers["Date"] == "Thu, 01 May 2025 12:00:00 GMT"
    assert headers["Digest"] == digest_header(ACTIVITY)
    assert headers["Content-Type"] == "application/activity+json"
    assert f'keyId="{KEY_ID}"' in headers["Signature"] and 'algorithm="rsa-sha256"' in headers["Signature"]
    assert 'headers="(request-target) host date digest"' in headers["Signature"]
    _verify(headers, alice)
    _verify(headers, alice, now=NOW + timedelta(minutes=59))  # a retried delivery, an hour at most


def test_a_changed_body_is_refused_because_its_digest_no_longer_matches(alice: Keys) -> None:
    refused = _refusal(_signed_post(alice, now=NOW), alice, body=ACTIVITY.replace(b"Follow", b"Block"))
    assert refused.status == 401 and "Digest" in refused.detail


def test_a_changed_body_with_a_recomputed_digest_is_refused_by_the_signature(alice: Keys) -> None:
    forged = ACTIVITY.replace(b"Follow", b"Block")
    headers = _signed_post(alice, now=NOW) | {"Digest": digest_header(forged)}
    refused = _refusal(headers, alice, body=forged)
    assert refused.status == 401 and KEY_ID in refused.detail


def test_a_signature_checked_against_another_actors_key_is_refused(alice: Keys, mallory: Keys) -> None:
    assert _refusal(_signed_post(mallory, now=NOW), alice).status == 401


def test_a_date_older_than_an_hour_is_refused(alice: Keys) -> None:
    refused = _refusal(_signed_post(alice, now=NOW - timedelta(hours=1, seconds=1)), alice)
    assert refused.status == 401 and "old" in refused.detail


def test_a_date_more_than_five_minutes_ahead_is_refused(alice: Keys) -> None:
    _verify(_signed_post(alice, now=NOW + timedelta(minutes=4)), alice)  # clocks drift a little
    refused = _refusal(_signed_post(alice, now=NOW + timedelta(minutes=6)), alice)
    assert refused.status == 401 and "ahead" in refused.detail


def test_a_post_whose_signature_leaves_the_digest_out_is_refused(alice: Keys) -> None:
    headers = sign_request(method="POST", url=INBOX, body=None, key_id=KEY_ID, private_key=alice.private, now=NOW)
    refused = _refusal(headers | {"Digest": digest_header(ACTIVITY)}, alice)
    assert refused.status == 401 and "digest" in refused.detail


def test_a_post_without_a_digest_is_a_bad_request(alice: Keys) -> None:
    headers = {name: value for name, value in _signed_post(alice, now=NOW).items() if name != "Digest"}
    assert _refusal(headers, alice).status == 400


def test_an_unsigned_request_is_refused(alice: Keys) -> None:
    headers = {name: value for name, value in _signed_post(alice, now=NOW).items() if name != "Signature"}
    refused = _refusal(headers, alice)
    assert refused.status == 401 and "not signed" in refused.detail
    with pytest.raises(SignatureError) as no_key:
        key_id_of(headers)
    assert no_key.value.status == 401


@pytest.mark.parametrize("signature", ["garbage", 'keyId="k",headers="date"', 'keyId="k",signature="!!"x'])
def test_a_malformed_signature_header_is_a_bad_request(alice: Keys, signature: str) -> None:
    assert _refusal(_signed_post(alice, now=NOW) | {"Signature": signature}, alice).status == 400


def test_a_signature_value_that_is_not_base64_is_a_bad_request(alice: Keys) -> None:
    headers = _signed_post(alice, now=NOW)
    headers["Signature"] = headers["Signature"].rsplit('signature="', 1)[0] + 'signature="not base64!"'
    assert _refusal(headers, alice).status == 400


def test_header_names_in_any_case_still_verify(alice: Keys) -> None:
    headers = _signed_post(alice, now=NOW)
    _verify({name.lower(): value for name, value in headers.items()}, alice)
    _verify({name.upper(): value for name, value in headers.items()}, alice)


def test_the_hs2019_label_is_read_as_rsa_sha256(alice: Keys) -> None:
    headers = _signed_post(alice, now=NOW)
    headers["Signature"] = headers["Signature"].replace('algorithm="rsa-sha256"', 'algorithm="hs2019"')
    _verify(headers, alice)
    headers["Signature"] = headers["Signature"].replace('algorithm="hs2019"', 'algorithm="ed25519"')
    assert _refusal(headers, alice).status == 401


def test_a_signature_in_the_authorization_header_verifies(alice: Keys) -> None:
    headers = _signed_post(alice, now=NOW)
    headers["Authorization"] = "Signature " + headers.pop("Signature")
    _verify(headers, alice)
    assert key_id_of(headers) == KEY_ID


def test_a_created_pseudo_header_may_stand_for_the_date(alice: Keys) -> None:
    created = int(NOW.timestamp()) - 30
    lines = [("(request-target)", "post /users/bob/inbox"), ("(created)", str(created)),
             ("host", "clips.example"), ("digest", digest_header(ACTIVITY))]
    headers = {"Host": "clips.example", "Digest": digest_header(ACTIVITY),
               "Signature": _cavage(alice, lines, algorithm="hs2019", extra=f"created={created},")}
    _verify(headers, alice)
    assert "creation time" in _refusal(headers, alice, now=NOW + timedelta(hours=2)).detail


def test_a_signed_header_the_request_lacks_is_refused(alice: Keys) -> None:
    headers = _signed_post(alice, now=NOW)
    lines = [("(request-target)", "post /users/bob/inbox"), ("host", "clips.example"), ("date", headers["Date"]),
             ("digest", headers["Digest"]), ("content-type", "application/activity+json")]
    headers["Signature"] = _cavage(alice, lines)
    _verify(headers, alice)
    del headers["Content-Type"]
    refused = _refusal(headers, alice)
    assert refused.status == 401 and "content-type" in refused.detail


@pytest.mark.parametrize("digest", [
    "SHA-512=" + base64.b64encode(hashlib.sha512(ACTIVITY).digest()).decode(),
    "sha-256=" + base64.b64encode(hashlib.sha256(ACTIVITY).digest()).decode(),
])
def test_a_sha512_or_lowercase_digest_is_accepted(alice: Keys, digest: str) -> None:
    headers = _signed_post(alice, now=NOW)
    lines = [("(request-target)", "post /users/bob/inbox"), ("host", "clips.example"), ("date", headers["Date"]),
             ("digest", digest)]
    headers |= {"Digest": digest, "Signature": _cavage(alice, lines)}
    _verify(headers, alice)
    assert _refusal(headers, alice, body=ACTIVITY + b" ").status == 401


def test_a_signed_get_with_a_query_verifies_only_for_that_query(alice: Keys) -> None:
    headers = sign_request(method="GET", url="https://clips.example/users/bob/outbox?page=2", body=None,
                           key_id=KEY_ID, private_key=alice.private, headers={"Accept": "application/activity+json"},
                           now=NOW)
    assert "Digest" not in headers and 'headers="(request-target) host date accept"' in headers["Signature"]
    _verify(headers, alice, method="GET", target="/users/bob/outbox?page=2", body=b"")
    assert _refusal(headers, alice, method="GET", target="/users/bob/outbox?page=3", body=b"").status == 401


def test_a_non_default_port_is_part_of_the_signed_host(alice: Keys) -> None:
    headers = sign_request(method="POST", url="http://localhost:8443/inbox", body=b"{}", key_id=KEY_ID,
                           private_key=alice.private, now=NOW)
    assert headers["Host"] == "localhost:8443"
    _verify(headers, alice, target="/inbox", body=b"{}")


def test_a_key_that_is_not_an_rsa_public_key_is_refused() -> None:
    ec_pem = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    for pem in ("not a key", ec_pem):
        with pytest.raises(SignatureError) as refused:
            load_public_key(pem)
        assert refused.value.status == 401


@dataclass
class Rfc9421Request:
    """What http-message-signatures signs: a method, a URL and headers it may add to."""
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)


def _rfc9421_post(keys: Keys, *, body: bytes = ACTIVITY, created: datetime = NOW,
                  components: tuple[str, ...] = ("@method", "@target-uri")) -> dict[str, str]:
    request = Rfc9421Request("POST", INBOX, {"Host": "clips.example", "Content-Type": "application/activity+json"})
    signer = HTTPMessageSigner(signature_algorithm=algorithms.RSA_V1_5_SHA256,
                               key_resolver=MappingKeyResolver(public_keys={}, private_keys={KEY_ID: keys.private}))
    signer.sign(request, key_id=KEY_ID, created=created, label="sig1", covered_component_ids=components, body=body)
    return request.headers


def test_an_rfc9421_post_signed_by_http_message_signatures_verifies(alice: Keys) -> None:
    headers = _rfc9421_post(alice)
    assert '"content-digest"' in headers["Signature-Input"]
    _verify(headers, alice)
    assert key_id_of(headers) == KEY_ID


def test_an_rfc9421_post_with_a_changed_body_or_another_key_is_refused(alice: Keys, mallory: Keys) -> None:
    assert _refusal(_rfc9421_post(alice), alice, body=ACTIVITY.replace(b"Follow", b"Block")).status == 401
    assert _refusal(_rfc9421_post(mallory), alice).status == 401
    assert _refusal(_rfc9421_post(alice), alice, target="/users/eve/inbox").status == 401


def test_an_rfc9421_signature_must_cover_the_target_and_be_recent(alice: Keys) -> None:
    refused = _refusal(_rfc9421_post(alice, components=("@method",)), alice)
    assert refused.status == 401 and "@target-uri" in refused.detail
    _verify(_rfc9421_post(alice, components=("@method", "@path", "@authority")), alice)
    refused = _refusal(_rfc9421_post(alice, created=NOW - timedelta(hours=2)), alice)
    assert refused.status == 401 and "old" in refused.detail


def test_an_rfc9421_post_without_content_digest_is_a_bad_request(alice: Keys) -> None:
    headers = _rfc9421_post(alice)
    del headers["Content-Digest"]
    refused = _refusal(headers, alice)
    assert refused.status == 400 and "Content-Digest" in refused.detail


def test_a_malformed_rfc9421_header_is_a_bad_request(alice: Keys) -> None:
    headers = _rfc9421_post(alice) | {"Signature-Input": "sig1=(unterminated"}
    assert _refusal(headers, alice).status == 400
    with pytest.raises(SignatureError) as refused:
        key_id_of(headers)
    assert refused.value.status == 400


def test_key_id_of_reads_both_schemes(alice: Keys) -> None:
    assert key_id_of(_signed_post(alice, now=NOW)) == KEY_ID
    assert key_id_of({name.lower(): value for name, value in _rfc9421_post(alice).items()}) == KEY_ID
