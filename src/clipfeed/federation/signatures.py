"""HTTP signatures on server-to-server ActivityPub requests: signing what we deliver, checking
what peers post to our inboxes.

The fediverse speaks two schemes. Mastodon, Pixelfed, PeerTube, Loops and nearly everyone else
sign with the Cavage draft (draft-cavage-http-signatures-12). It never became a standard, and no
maintained package on PyPI implements it the way those servers use it (``Digest`` beside the
signature, ``hs2019`` meaning RSA-SHA256, ``Authorization: Signature`` as an alternative header),
so that scheme is written here on top of ``cryptography``. Newer servers may send RFC 9421
signatures (``Signature-Input`` + ``Signature``); those go through ``http-message-signatures``,
which implements only the RFC.

Everything here is pure: no network, no database, no clock but the ``now`` it is given. The
caller fetches the key :func:`key_id_of` names, then calls :func:`verify_request`; a refusal is
a :class:`SignatureError` whose status and sentence go back to the peer as a problem response.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import formatdate, parsedate_to_datetime
from typing import Any, cast
from urllib.parse import urlsplit

import http_sf
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from http_message_signatures import (
    HTTPMessageSignaturesException,
    HTTPMessageVerifier,
    HTTPSignatureAlgorithm,
    HTTPSignatureKeyResolver,
    algorithms,
)

_DIGESTS = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}
_DEFAULT_PORTS = {"http": 80, "https": 443}
_CAVAGE_PARAM = re.compile(r'\s*([A-Za-z]+)\s*=\s*(?:"([^"]*)"|([^\s,"]+))\s*(?:,|$)')
_RFC9421_ALGORITHMS: dict[str, type[HTTPSignatureAlgorithm]] = {
    "rsa-v1_5-sha256": algorithms.RSA_V1_5_SHA256, "rsa-pss-sha512": algorithms.RSA_PSS_SHA512}


class SignatureError(Exception):
    """Why a request's signature was refused. ``status``: 400 when a header is malformed or the
    Digest is missing; 401 when the signature does not verify, the key is wrong, the time is
    outside the window or a required header is not signed."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _malformed(detail: str) -> SignatureError:
    return SignatureError(400, detail)


def _refused(detail: str) -> SignatureError:
    return SignatureError(401, detail)


def generate_key_pair() -> tuple[str, str]:
    """A new RSA-2048 key: (private PEM in PKCS#8, public PEM as SubjectPublicKeyInfo)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    return private_pem.decode(), public_pem.decode()


def load_private_key(pem: str) -> RSAPrivateKey:
    """Our own key, as stored: a bad one is our bug, so it raises ``ValueError``.

    The RSA consistency checks are skipped: the key is one we generated and stored ourselves,
    not input, and they cost 50–60 ms a load here (the primality tests), on the event loop, against 0.03 ms."""
    key = serialization.load_pem_private_key(pem.encode(), password=None, unsafe_skip_rsa_key_validation=True)
    if not isinstance(key, RSAPrivateKey):
        raise ValueError("the private key is not an RSA key")
    return key


def load_public_key(pem: str) -> RSAPublicKey:
    """A peer's ``publicKeyPem`` (SubjectPublicKeyInfo or PKCS#1); anything else is a 401."""
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise _refused("the actor's publicKeyPem is not a readable PEM public key") from error
    if not isinstance(key, RSAPublicKey):
        raise _refused("the actor's key is not an RSA key; only RSA keys are accepted")
    return key


def digest_header(body: bytes) -> str:
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()


def key_id_of(headers: Mapping[str, str]) -> str:
    """The key the request claims to be signed with, from either scheme."""
    lowered = _lowered(headers)
    if "signature-input" in lowered:
        return _rfc9421_signature(lowered).key_id
    return _cavage_params(_cavage_header(lowered))["keyId"]


def sign_request(*, method: str, url: str, body: bytes | None, key_id: str, private_key: RSAPrivateKey,
                 headers: Mapping[str, str] | None = None, now: datetime | None = None) -> dict[str, str]:
    """The headers to send with a request, Cavage-signed the way Mastodon expects: the request
    target, Host, Date and, with a body, its Digest (or, without one, Accept when given). Other
    ``headers`` (Content-Type, Accept, ...) are passed through."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"{url!r} is not an absolute URL")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        host += f":{parts.port}"
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    extra = {name: value for name, value in (headers or {}).items()
             if name.lower() not in {"host", "date", "digest", "signature"}}
    signed = {"Host": host, "Date": formatdate(_utc(now).timestamp(), usegmt=True)}
    covered = [("(request-target)", f"{method.lower()} {target}"), ("host", host), ("date", signed["Date"])]
    if body is not None:
        signed["Digest"] = digest_header(body)
        covered.append(("digest", signed["Digest"]))
    else:
        accept = _lowered(extra).get("accept")
        if accept is not None:
            covered.append(("accept", accept))
    signing_string = "\n".join(f"{name}: {value}" for name, value in covered).encode()
    signature = base64.b64encode(private_key.sign(signing_string, padding.PKCS1v15(), hashes.SHA256()))
    names = " ".join(name for name, _ in covered)
    signed |= extra
    signed["Signature"] = (f'keyId="{key_id}",algorithm="rsa-sha256",headers="{names}",'
                           f'signature="{signature.decode()}"')
    return signed


def verify_request(*, method: str, target: str, headers: Mapping[str, str], body: bytes,
                   public_key: RSAPublicKey, now: datetime | None = None, max_age_s: float = 3600,
                   max_future_s: float = 300, scheme: str = "https") -> None:
    """Return if the request is signed by ``public_key``, else raise :class:`SignatureError`.

    ``target`` is the path plus ``?query`` as received; ``scheme`` is how the peer reached us
    (RFC 9421 signs the whole URI). The signature must cover the method and target, the host, the
    time and, for a request with a body, its digest, which must match ``body``; the signed time
    must lie within [now - max_age_s, now + max_future_s].
    """
    lowered = _lowered(headers)
    window = _Window(_utc(now), max_age_s, max_future_s)
    has_body = bool(body) or method.upper() == "POST"
    if "signature-input" in lowered:
        if "host" not in lowered:
            raise _malformed("the request has no Host header")
        _verify_rfc9421(method=method, url=f"{scheme}://{lowered.get('host', '')}{target}", headers=lowered,
                        body=body, has_body=has_body, public_key=public_key, window=window)
    else:
        _verify_cavage(method=method, target=target, headers=lowered, body=body, has_body=has_body,
                       public_key=public_key, window=window)


@dataclass(frozen=True)
class _Window:
    now: datetime
    max_age_s: float
    max_future_s: float

    def check(self, moment: datetime, what: str) -> None:
        age = (self.now - moment).total_seconds()
        if age > self.max_age_s:
            raise _refused(f"{what} is {age:.0f} s old; signatures are accepted for {self.max_age_s:.0f} s")
        if -age > self.max_future_s:
            raise _refused(f"{what} is {-age:.0f} s ahead of our clock; at most {self.max_future_s:.0f} s "
                           "is tolerated")


def _utc(moment: datetime | None) -> datetime:
    if moment is None:
        return datetime.now(UTC)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _timestamp(value: Any, what: str) -> datetime:
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError) as error:
        raise _malformed(f"{what} is not a Unix time") from error


def _lowered(headers: Mapping[str, str]) -> dict[str, str]:
    """Header names lowercased; repeated fields joined as HTTP combines them."""
    lowered: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        lowered[key] = f"{lowered[key]}, {value.strip()}" if key in lowered else value.strip()
    return lowered


def _cavage_header(headers: dict[str, str]) -> str:
    if "signature" in headers:
        return headers["signature"]
    scheme, _, params = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "signature":
        return params
    raise _refused("the request is not signed: it has no Signature header")


def _cavage_params(value: str) -> dict[str, str]:
    params: dict[str, str] = {}
    position = 0
    while position < len(value):
        match = _CAVAGE_PARAM.match(value, position)
        if match is None:
            raise _malformed('the Signature header is not a list of name="value" pairs')
        params[match[1]] = match[2] if match[2] is not None else match[3]
        position = match.end()
    if "keyId" not in params or "signature" not in params:
        raise _malformed("the Signature header needs both keyId and signature")
    return params


def _check_digest(headers: dict[str, str], body: bytes, field: str) -> None:
    """``field`` is ``digest`` (RFC 3230, the Cavage companion) or ``content-digest`` (RFC 9530)."""
    if field not in headers:
        raise _malformed(f"a request with a body needs a {field.title()} header holding the body's SHA-256")
    for name, expected in _digests(field, headers[field]).items():
        if not hmac.compare_digest(expected, _DIGESTS[name](body).digest()):
            raise _refused(f"the {field.title()} header's {name} does not match the body")


def _digests(field: str, value: str) -> dict[str, bytes]:
    found: dict[str, Any] = {}
    try:
        if field == "content-digest":
            members = cast(dict[str, Any], http_sf.parse(value.encode(), tltype="dictionary"))
            found = {name: member[0] for name, member in members.items() if name in _DIGESTS}
        else:
            for member in value.split(","):
                name, _, encoded = member.strip().partition("=")
                if name.lower() in _DIGESTS:
                    found[name.lower()] = base64.b64decode(encoded, validate=True)
    except ValueError as error:  # binascii.Error and http_sf's errors are ValueErrors
        raise _malformed(f"the {field.title()} header is malformed: {error}") from error
    if not found or not all(isinstance(digest, bytes) for digest in found.values()):
        raise _malformed(f"the {field.title()} header has no SHA-256 or SHA-512 value")
    return found


def _verify_cavage(*, method: str, target: str, headers: dict[str, str], body: bytes, has_body: bool,
                   public_key: RSAPublicKey, window: _Window) -> None:
    params = _cavage_params(_cavage_header(headers))
    # Mastodon reads hs2019 ("ask the key") as RSA-SHA256 for an RSA key, and so do we.
    algorithm = params.get("algorithm", "hs2019").lower()
    if algorithm not in {"rsa-sha256", "hs2019"}:
        raise _refused(f"the signature algorithm {algorithm!r} is not supported; use rsa-sha256 or hs2019")
    covered = params.get("headers", "date").lower().split()
    if has_body:
        _check_digest(headers, body, "digest")
    required = ["(request-target)", "host", "date" if "(created)" not in covered else "(created)"]
    required += ["digest"] if has_body else []
    unsigned = [name for name in required if name not in covered]
    if unsigned:
        raise _refused(f"the signature must cover {', '.join(unsigned)}")
    lines = []
    for name in covered:
        if name == "(request-target)":
            value = f"{method.lower()} {target}"
        elif name in {"(created)", "(expires)"}:
            value = params.get(name.strip("()"), "")
            moment = _timestamp(value, f"the {name.strip('()')} signature parameter")
            if name == "(created)":
                window.check(moment, "the signature's creation time")
            elif moment < window.now:
                raise _refused("the signature has expired")
        elif name in headers:
            value = headers[name]
        else:
            raise _refused(f"the signature covers {name!r} but the request has no such header")
        lines.append(f"{name}: {value}")
    if "date" in covered:
        window.check(_http_date(headers["date"]), "the Date header")
    try:
        signature = base64.b64decode(params["signature"], validate=True)
    except binascii.Error as error:
        raise _malformed("the signature value is not base64") from error
    try:
        public_key.verify(signature, "\n".join(lines).encode(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as error:
        raise _refused(f"the signature does not verify with the key {params['keyId']}") from error


def _http_date(value: str) -> datetime:
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError) as error:
        raise _malformed(f"the Date header {value!r} is not an HTTP date") from error
    return _utc(moment)


@dataclass(frozen=True)
class _Rfc9421Signature:
    key_id: str
    components: frozenset[str]
    params: dict[str, Any]
    headers: dict[str, str]  # the request's headers, holding only this signature


def _rfc9421_signature(headers: dict[str, str]) -> _Rfc9421Signature:
    """The first signature of the request, which is the one we check."""
    try:
        inputs = cast(dict[str, Any], http_sf.parse(headers["signature-input"].encode(), tltype="dictionary"))
        signatures = cast(dict[str, Any], http_sf.parse(headers.get("signature", "").encode(), tltype="dictionary"))
    except ValueError as error:
        raise _malformed(f"Signature-Input or Signature is not a structured field: {error}") from error
    if not inputs:
        raise _malformed("Signature-Input names no signature")
    label = next(iter(inputs))
    members, params = inputs[label]
    if label not in signatures or not isinstance(members, list):
        raise _malformed(f"Signature-Input {label!r} has no matching Signature or no component list")
    if not isinstance(params.get("keyid"), str):
        raise _malformed(f"Signature-Input {label!r} has no keyid")
    # A request may carry several signatures (a proxy's too); the library checks one only if it is alone.
    single = headers | {"signature-input": http_sf.ser({label: inputs[label]}),
                        "signature": http_sf.ser({label: signatures[label]})}
    return _Rfc9421Signature(key_id=params["keyid"], components=frozenset(str(name) for name, _ in members),
                             params=params, headers=single)


@dataclass
class _ReceivedRequest:
    """The shape http-message-signatures reads a request from."""
    method: str
    url: str
    headers: dict[str, str]


class _GivenKey(HTTPSignatureKeyResolver):
    def __init__(self, key: RSAPublicKey) -> None:
        self.key = key

    def resolve_public_key(self, key_id: str) -> RSAPublicKey:
        return self.key


class _VerifierOnOurClock(HTTPMessageVerifier):
    def validate_created_and_expires(self, sig_input: Any, max_age: Any = None) -> None:
        """Done by ``_verify_rfc9421`` against the ``now`` it was given, not the library's clock."""


def _verify_rfc9421(*, method: str, url: str, headers: dict[str, str], body: bytes, has_body: bool,
                    public_key: RSAPublicKey, window: _Window) -> None:
    signature = _rfc9421_signature(headers)
    covered = signature.components
    if has_body:
        _check_digest(headers, body, "content-digest")
    unsigned = [name for name in ("@method", "content-digest" if has_body else "") if name and name not in covered]
    if "@target-uri" not in covered and not {"@path", "@authority"} <= covered:
        unsigned.append("@target-uri (or @path and @authority)")
    if unsigned:
        raise _refused(f"the signature must cover {', '.join(unsigned)}")
    if "created" not in signature.params:
        raise _refused("the signature has no created parameter")
    window.check(_timestamp(signature.params["created"], "created"), "the signature's creation time")
    if "expires" in signature.params and _timestamp(signature.params["expires"], "expires") < window.now:
        raise _refused("the signature has expired")
    alg = signature.params.get("alg")
    if alg is not None and alg not in _RFC9421_ALGORITHMS:
        raise _refused(f"the signature algorithm {alg!r} is not supported; use rsa-v1_5-sha256")
    candidates = [_RFC9421_ALGORITHMS[alg]] if alg else list(_RFC9421_ALGORITHMS.values())
    request = _ReceivedRequest(method.upper(), url, signature.headers)
    failures = []
    for candidate in candidates:
        verifier = _VerifierOnOurClock(signature_algorithm=candidate, key_resolver=_GivenKey(public_key))
        try:
            verifier.verify(request, max_age=None, body=body if has_body else None)
            return
        except (HTTPMessageSignaturesException, ValueError, TypeError) as error:
            failures.append(str(error))
    reason = next((failure for failure in failures if failure), "")
    raise _refused(f"the signature does not verify with the key {signature.key_id}" + (f": {reason}" if reason else ""))
