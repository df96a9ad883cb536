"""Serving the app over TLS with cheroot: an mTLS listener for the API, a TLS one for people.

cheroot is a production-grade threaded WSGI server that hands the client certificate to
the application. Both listeners serve the same app; the API refuses requests without a
registered client certificate, so a request reaching it through the people's listener is
refused like any other anonymous caller.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import socket
import ssl
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from cheroot import errors, wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter
from flask import Flask

from exchange.auth.mtls import CLIENT_CERT_FINGERPRINT
from exchange.ops.logs import client_went_away
from exchange.pki.vault import Vault, load_vault
from exchange.request_body import RequestBody

log = logging.getLogger(__name__)
connections_log = logging.getLogger("exchange.serving.connections")

# OpenSSL's X509_V_FLAG_NO_CHECK_TIME: the handshake still checks the chain to the CA, and
# the application refuses an expired certificate itself, with an audited denial.
_NO_CHECK_TIME = 0x200000

# TLS 1.2 suites with forward secrecy and AEAD only; TLS 1.3 suites are all modern.
_TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"

# Fewer young collections, start-up's objects frozen: batches of 100 gain 11-19% (measured).
_YOUNG_COLLECTION_THRESHOLD = 20_000
_OLDER_COLLECTION_THRESHOLDS = (50, 100)


def server_context(vault: Vault, *, require_client_certificate: bool) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(_TLS12_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    context.load_cert_chain(
        str(vault.server_certificate_path), str(vault.server_key_path), password=vault.passphrase
    )
    if require_client_certificate:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cadata=vault.client_verify_pem)
        context.verify_flags = ssl.VerifyFlags(int(context.verify_flags) | _NO_CHECK_TIME)
    return context


class ExchangeTLSAdapter(BuiltinSSLAdapter):
    """cheroot's adapter with our context, adding the certificate fingerprint per connection.

    With ``reload``, each new connection asks it for the vault (cached, looked at again
    every second) and a rotated server certificate or CA is served from the next handshake
    on, without a restart; connections already open keep theirs.
    """

    def __init__(
        self,
        vault: Vault,
        *,
        listener: str,
        require_client_certificate: bool,
        reload: Callable[[], Vault] | None = None,
    ) -> None:
        super().__init__(
            str(vault.server_certificate_path),
            str(vault.server_key_path),
            private_key_password=vault.passphrase,
        )
        self.context = server_context(vault, require_client_certificate=require_client_certificate)
        self.listener = listener
        self._vault = vault
        self._reload = reload
        self._mutual = require_client_certificate
        self._reloading = threading.Lock()

    def wrap(self, sock: socket.socket) -> tuple[ssl.SSLSocket, dict[str, Any]]:
        if self._reload is not None:
            self._follow(self._reload())
        wrapped: tuple[ssl.SSLSocket, dict[str, Any]] = super().wrap(sock)  # type: ignore[no-untyped-call]
        return wrapped

    def _follow(self, vault: Vault) -> None:
        if vault is self._vault:
            return
        with self._reloading:
            if vault is self._vault:
                return
            try:
                context = server_context(vault, require_client_certificate=self._mutual)
            except (OSError, ssl.SSLError, ValueError) as error:
                # A key and certificate caught between their two writes: the next look pairs them.
                log.warning("%s listener keeps its certificate for now: %s", self.listener, error)
                return
            self.context = context
            self._vault = vault
            log.info("%s listener serves the keys folder's new certificates", self.listener)

    def get_environ(self, sock: ssl.SSLSocket) -> dict[str, Any]:  # type: ignore[override]
        environ: dict[str, Any] = super().get_environ(sock)  # type: ignore[no-untyped-call]
        environ["exchange.listener"] = self.listener
        der = sock.getpeercert(binary_form=True)
        if der:
            environ[CLIENT_CERT_FINGERPRINT] = hashlib.sha256(der).hexdigest()
        return environ


class ExchangeWSGIServer(wsgi.Server):
    """cheroot's server, reporting through the logging module rather than standard error."""

    def error_log(self, msg: str = "", level: int = logging.INFO, traceback: bool = False) -> None:
        error = sys.exc_info()[1]
        if client_went_away(error):
            # A client that hangs up, resets or fails its handshake: one line, no traceback;
            # a failed handshake at info, for an agency whose system cannot connect.
            level = logging.INFO if isinstance(error, _HANDSHAKE_ERRORS) else logging.DEBUG
            if str(error) not in msg:
                msg = f"{msg} ({type(error).__name__}: {error})"
            connections_log.log(level, "client connection ended: %s", msg)
            return
        connections_log.log(level, "%s", msg, exc_info=traceback or None)


_HANDSHAKE_ERRORS = (errors.FatalSSLAlert, errors.NoSSLError)


@dataclass
class Listener:
    name: str
    server: wsgi.Server
    thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server.bind_addr[1])


class PortsInUse(Exception):
    """Another server already listens on a port this one is to serve on."""


@contextmanager
def claimed_ports(host: str, ports: Sequence[int]) -> Iterator[None]:
    """Hold ``host``'s ``ports`` for the server processes about to share them.

    SO_REUSEPORT lets any process of the same user bind a port that is already served,
    and the kernel would then spread one exchange's connections over another. So, first,
    a claim only one process can hold: an abstract Unix socket named after the address
    (Linux; it vanishes with its process). Then a bind without SO_REUSEPORT, which fails
    while anything else listens there. Raises :class:`PortsInUse`.
    """
    with ExitStack() as stack:
        for port in ports:
            if sys.platform == "linux":
                claim = stack.enter_context(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
                try:
                    claim.bind(f"\0exchange-serve {host}:{port}")
                except OSError:
                    raise PortsInUse(_in_use(host, port)) from None
            family, kind, proto, _, address = socket.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
            )[0]
            with socket.socket(family, kind, proto) as probe:
                # As cheroot binds: connections of an earlier server in TIME_WAIT do not
                # hold the port, a listener does.
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind(address)
                except OSError:
                    raise PortsInUse(_in_use(host, port)) from None
        yield


def _in_use(host: str, port: int) -> str:
    return (
        f"cannot listen on {host} port {port}: another server is already listening there "
        "(see --api-port, --ui-port)."
    )


def settle_collector() -> None:
    """Tune the cyclic garbage collector for serving, once start-up is done."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(_YOUNG_COLLECTION_THRESHOLD, *_OLDER_COLLECTION_THRESHOLDS)


@dataclass
class ExchangeServer:
    """Both listeners; ``start`` returns once they accept connections."""

    app: Flask
    host: str = "127.0.0.1"
    api_port: int = 8443
    ui_port: int = 8444
    threads: int = 16
    # Several processes may bind the same ports (SO_REUSEPORT): the kernel spreads
    # connections over them, and each process brings its own core past the GIL.
    reuse_port: bool = False
    listeners: list[Listener] = field(default_factory=list)

    def _listener(
        self, name: str, port: int, *, mutual: bool, application: RequestBody
    ) -> Listener:
        vault = load_vault(self.app)
        server = ExchangeWSGIServer(
            (self.host, port),
            application,
            numthreads=self.threads,
            server_name=self.app.config["EXCHANGE_NAME"],
            timeout=30,
            request_queue_size=128,
            reuse_port=self.reuse_port,
        )
        server.ssl_adapter = ExchangeTLSAdapter(
            vault,
            listener=name,
            require_client_certificate=mutual,
            reload=lambda: load_vault(self.app),
        )
        return Listener(name=name, server=server)

    def start(self) -> None:
        application = RequestBody(self.app, max_body=int(self.app.config["MAX_CONTENT_LENGTH"]))
        self.listeners = [
            self._listener("api", self.api_port, mutual=True, application=application),
            self._listener("ui", self.ui_port, mutual=False, application=application),
        ]
        for listener in self.listeners:
            listener.server.prepare()
            listener.thread = threading.Thread(
                target=listener.server.serve, name=f"exchange-{listener.name}", daemon=True
            )
            listener.thread.start()

    @property
    def api(self) -> Listener:
        return self.listeners[0]

    @property
    def ui(self) -> Listener:
        return self.listeners[1]

    def stop(self) -> None:
        for listener in self.listeners:
            listener.server.stop()
        for listener in self.listeners:
            if listener.thread is not None:
                listener.thread.join(timeout=10)

    def wait(self) -> None:
        for listener in self.listeners:
            while listener.thread is not None and listener.thread.is_alive():
                listener.thread.join(timeout=0.5)
