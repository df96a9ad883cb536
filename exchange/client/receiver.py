"""Receiving push deliveries: a WSGI app and the mutual-TLS listener an agency runs it on.

For a push subscription the exchange POSTs each batch of events to the subscription's
endpoint over mutual TLS, with a client certificate issued by the exchange's CA. The body
is a compact JWS (``Content-Type: application/jose``) signed by one of the exchange's keys
(``/.well-known/jwks.json``) with ``typ: exchange-delivery+jws``; its payload is
``{"subscription", "delivery", "sent_at", "events": [...]}``. Any 2xx acknowledges the
batch; anything else makes the exchange send it again later, so a batch may arrive twice
and the receiver drops events whose ``event_id`` it has already handed over.

The TLS client certificate only says who may connect; the delivery's signature is what
proves the events come from the exchange. Each event is a record as ``GET
/api/v1/records/{id}`` returns it: verify it with ``ExchangeClient.verify`` before trusting
it, as below. Standing a receiver up::

    from exchange.client.receiver import PushReceiver, serve_receiver
    from exchange.client.sdk import ExchangeClient

    exchange = ExchangeClient.from_bundle("bundle")

    def store(events):
        for event in events:
            verified = exchange.verify(event)  # publisher's signature, exchange's receipt
            ...  # keep verified.record; raise to have the exchange send the batch again

    receiver = PushReceiver(
        keys=exchange.exchange_keys(),
        refresh_keys=lambda: exchange.exchange_keys(refresh=True),  # a rotated key
        on_events=store,
    )
    server = serve_receiver(
        receiver, host="0.0.0.0", port=8443,
        certificate="receiver.pem", private_key="receiver.key.pem",
        client_ca="bundle/ca.pem",  # the exchange's CA, from the agency's bundle
    )
    ...
    server.stop()

The default memory of delivered event ids lives as long as the process; pass ``seen`` a
store kept beside the agency's own data (anything with ``in`` and ``add``) to carry it
over restarts.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

import orjson
from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter

from exchange.client.feeds import RecentEventIds
from keys import errors as key_errors
from keys.jwk import PublicSigningKey, load_public_jwk
from keys.jws import read_header, verify_compact

log = logging.getLogger(__name__)

DELIVERY_SIGNATURE_TYPE = "exchange-delivery+jws"
MAX_DELIVERY_BYTES = 8 * 1024 * 1024
_JOSE = "application/jose"
# The exchange's own listeners' TLS 1.2 policy (exchange.serving): forward secrecy and
# AEAD only. Repeated rather than imported so that an agency's receiver does not load the
# server's database-backed modules.
_TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"
_PUBLIC_JWK_MEMBERS = ("kty", "crv", "x", "y")
_REFRESH_SECONDS = 60.0

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class SeenEvents(Protocol):
    """Where a receiver remembers the event ids it has handed over."""

    def __contains__(self, event_id: object, /) -> bool: ...

    def add(self, event_id: str, /) -> None: ...


class _Refusal(Exception):
    def __init__(
        self, status: int, code: str, title: str, *, headers: Iterable[tuple[str, str]] = ()
    ) -> None:
        super().__init__(code)
        self.status, self.code, self.title = status, code, title
        self.headers = list(headers)


_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    405: "Method Not Allowed",
    411: "Length Required",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    500: "Internal Server Error",
}


def exchange_public_keys(
    keys: Mapping[str, PublicSigningKey] | Mapping[str, Any],
) -> dict[str, PublicSigningKey]:
    """``kid -> key`` from such a mapping or from a JWK Set (``/.well-known/jwks.json``)."""
    members = keys.get("keys")
    if isinstance(members, list):
        return {
            str(jwk["kid"]): load_public_jwk(
                {name: value for name, value in jwk.items() if name in _PUBLIC_JWK_MEMBERS}
            )
            for jwk in members
        }
    return {str(kid): key for kid, key in keys.items()}


class PushReceiver:
    """A WSGI app that accepts the exchange's signed push deliveries."""

    def __init__(
        self,
        *,
        keys: Mapping[str, PublicSigningKey] | Mapping[str, Any],
        on_events: Callable[[list[dict[str, Any]]], None],
        seen: SeenEvents | None = None,
        max_bytes: int = MAX_DELIVERY_BYTES,
        refresh_keys: Callable[[], Mapping[str, PublicSigningKey] | Mapping[str, Any]]
        | None = None,
    ) -> None:
        self.keys = exchange_public_keys(keys)
        if not self.keys:
            raise ValueError("a receiver needs at least one exchange key")
        # Asked for the exchange's keys again when a delivery names one not seen yet (a
        # rotated key), at most once a minute: only the exchange's CA's clients connect,
        # but none of them should make the receiver fetch on every request.
        self.refresh_keys = refresh_keys
        self._refreshed_at = float("-inf")
        self.on_events = on_events
        self.seen: SeenEvents = seen if seen is not None else RecentEventIds()
        self.max_bytes = max_bytes
        # One batch at a time: the exchange sends a subscription's batches in order, and a
        # retry racing its first attempt must not hand the same events over twice.
        self._lock = threading.Lock()

    def __call__(self, environ: Mapping[str, Any], start_response: StartResponse) -> list[bytes]:
        try:
            delivery = self._verified_delivery(environ)
            self._hand_over(delivery["events"])
        except _Refusal as refusal:
            return _problem(start_response, refusal)
        except Exception:
            # The exchange sends the batch again later; the details stay in this log.
            log.exception("push delivery not processed")
            return _problem(
                start_response, _Refusal(500, "delivery_not_processed", "Delivery not processed")
            )
        start_response("204 No Content", [])
        return []

    def _verified_delivery(self, environ: Mapping[str, Any]) -> dict[str, Any]:
        if environ.get("REQUEST_METHOD") != "POST":
            raise _Refusal(
                405, "method_not_allowed", "Deliveries are POSTed", headers=[("Allow", "POST")]
            )
        media_type = str(environ.get("CONTENT_TYPE", "")).split(";")[0].strip().lower()
        if media_type != _JOSE:
            raise _Refusal(415, "unsupported_media_type", f"Deliveries are {_JOSE}")
        token = self._body(environ).decode("ascii", errors="replace").strip()
        try:
            header = read_header(token)
            key = self.keys.get(header.kid) or self._refreshed_key(header.kid)
            if key is None:
                raise _Refusal(401, "signature_invalid", "Delivery signed by an unknown key")
            _, payload = verify_compact(token, key=key, typ=DELIVERY_SIGNATURE_TYPE)
        except key_errors.Error as error:
            raise _Refusal(401, "signature_invalid", "Delivery signature does not verify") from (
                error
            )
        return _delivery(payload)

    def _refreshed_key(self, kid: str) -> PublicSigningKey | None:
        now = time.monotonic()
        if self.refresh_keys is None or now - self._refreshed_at < _REFRESH_SECONDS:
            return None
        self._refreshed_at = now
        self.keys = exchange_public_keys(self.refresh_keys())
        return self.keys.get(kid)

    def _body(self, environ: Mapping[str, Any]) -> bytes:
        stream = environ["wsgi.input"]
        length_text = environ.get("CONTENT_LENGTH") or ""
        if not length_text:
            # Chunked: read one octet past the limit to know whether it was passed.
            body = bytes(stream.read(self.max_bytes + 1))
        else:
            try:
                length = int(length_text)
            except ValueError:
                raise _Refusal(400, "bad_request", "Content-Length is not a number") from None
            if length < 0:
                raise _Refusal(400, "bad_request", "Content-Length is negative")
            if length > self.max_bytes:
                raise _Refusal(413, "body_too_large", "Delivery too large")
            body = bytes(stream.read(length))
        if len(body) > self.max_bytes:
            raise _Refusal(413, "body_too_large", "Delivery too large")
        if not body:
            raise _Refusal(401, "signature_invalid", "Delivery carries no signature")
        return body

    def _hand_over(self, events: list[dict[str, Any]]) -> None:
        with self._lock:
            fresh: dict[str, dict[str, Any]] = {}
            for event in events:
                event_id = str(event["event_id"])
                if event_id not in self.seen and event_id not in fresh:
                    fresh[event_id] = event
            if fresh:
                self.on_events(list(fresh.values()))
            # Only once the agency took them: a failed hand-over is retried whole.
            for event_id in fresh:
                self.seen.add(event_id)


def _delivery(payload: bytes) -> dict[str, Any]:
    try:
        delivery = orjson.loads(payload)
    except orjson.JSONDecodeError:
        delivery = None
    if (
        not isinstance(delivery, dict)
        or not isinstance(delivery.get("events"), list)
        or not all(
            isinstance(event, dict) and isinstance(event.get("event_id"), str | int)
            for event in delivery["events"]
        )
    ):
        raise _Refusal(400, "delivery_malformed", "Delivery payload malformed")
    return delivery


def _problem(start_response: StartResponse, refusal: _Refusal) -> list[bytes]:
    # RFC 9457 §4.2.1: about:blank, the status code says it all; code is for machines.
    body = json.dumps(
        {
            "type": "about:blank",
            "title": refusal.title,
            "status": refusal.status,
            "code": refusal.code,
        }
    ).encode()
    start_response(
        f"{refusal.status} {_REASONS[refusal.status]}",
        [
            ("Content-Type", "application/problem+json"),
            ("Content-Length", str(len(body))),
            *refusal.headers,
        ],
    )
    return [body]


def receiver_tls_adapter(
    *, certificate: str | Path, private_key: str | Path, client_ca: str | Path
) -> BuiltinSSLAdapter:
    """cheroot's TLS adapter, requiring a client certificate that chains to ``client_ca``.

    Unlike the exchange's API listener, the handshake checks the certificate's dates too:
    a receiver has no registry of its own that would judge them after the handshake.
    """
    adapter = BuiltinSSLAdapter(
        str(certificate), str(private_key), str(client_ca), ciphers=_TLS12_CIPHERS
    )
    context: ssl.SSLContext = adapter.context
    context.verify_mode = ssl.CERT_REQUIRED
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    return adapter


def serve_receiver(
    app: Callable[..., Iterable[bytes]],
    *,
    host: str,
    port: int,
    certificate: str | Path,
    private_key: str | Path,
    client_ca: str | Path,
    threads: int = 4,
    reuse_port: bool = False,
) -> wsgi.Server:
    """Start ``app`` on a mutual-TLS listener in a background thread; ``stop()`` ends it.

    ``port`` 0 picks a free port: read it from ``server.bind_addr[1]``. ``reuse_port``
    lets a restarted receiver take its port back while old connections still linger.
    """
    server = wsgi.Server((host, port), app, numthreads=threads, timeout=30, reuse_port=reuse_port)
    server.ssl_adapter = receiver_tls_adapter(
        certificate=certificate, private_key=private_key, client_ca=client_ca
    )
    server.prepare()
    threading.Thread(target=server.serve, name="exchange-receiver", daemon=True).start()
    return server
