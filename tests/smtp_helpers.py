"""A real SMTP server on loopback for tests: aiosmtpd with optional STARTTLS, implicit TLS, AUTH and refusals."""
from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from email import message_from_bytes, policy
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """Write a self-signed certificate for 127.0.0.1 and localhost; return (cert.pem, key.pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "scimwatch test SMTP")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class Mailbox:
    """The aiosmtpd handler: keeps every accepted message, or refuses with a set reply."""

    def __init__(self):
        self.envelopes = []
        self.refuse_with: str | None = None
        self.logins: list[str] = []
        self.sessions: list[int] = []

    async def handle_DATA(self, server, session, envelope):
        if self.refuse_with:
            return self.refuse_with
        self.envelopes.append(envelope)
        self.sessions.append(id(session))
        return "250 OK"

    @property
    def messages(self) -> list:
        """Accepted messages, parsed."""
        return [message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
                for envelope in self.envelopes]

    def to(self, address: str) -> list:
        """Accepted messages addressed to `address` (case-insensitive)."""
        return [m for m in self.messages if m["To"].lower() == address.lower()]


class SmtpServer:
    """aiosmtpd on 127.0.0.1 that can be stopped and started again on the same port."""

    def __init__(self, *, tls: str = "none", certificate: tuple[Path, Path] | None = None,
                 users: dict[str, str] | None = None):
        self.tls, self.users, self.port = tls, users, free_port()
        self.mailbox = Mailbox()
        self.context = None
        if tls != "none":
            self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.context.load_cert_chain(*certificate)
        self.controller = None
        self.start()

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword):
            user, password = auth_data.login.decode(), auth_data.password.decode()
            if self.users.get(user) == password:
                self.mailbox.logins.append(user)
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    def start(self) -> None:
        options = {}
        if self.tls == "starttls":
            options.update(tls_context=self.context, require_starttls=True)
        elif self.tls == "ssl":
            options.update(ssl_context=self.context)
        if self.users is not None:
            options.update(authenticator=self._authenticate, auth_required=True)
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port, **options)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def settings(self, **extra) -> dict:
        """Return scimwatch settings (without prefix) that send through this server."""
        values = {"MAIL_BACKEND": "smtp", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": self.port,
                  "SMTP_SECURITY": self.tls}
        values.update(extra)
        return values


class Clock:
    """The injected CLOCK: a fixed UTC time that tests move forward by hand."""

    def __init__(self, start: datetime.datetime):
        self.now = start

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += datetime.timedelta(**delta)


class Scimwatch:
    """A scimwatch app over a real data folder with an injected clock, driven through its HTTP API."""

    def __init__(self, data_dir: Path, clock: Clock, **settings):
        from conftest import ADMIN_TOKEN

        self.data_dir, self.clock, self.settings = data_dir, clock, settings
        self.headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        self.token = ADMIN_TOKEN
        self.app = None
        self.start()

    def start(self) -> None:
        from server import create_app

        self.app = create_app({"DATA_DIR": self.data_dir, "ADMIN_TOKEN": self.token, "CLOCK": self.clock,
                               **self.settings})
        self.client = self.app.test_client()

    def restart(self) -> None:
        """Close the data folder and open it again, as a server restart does."""
        self.close()
        self.start()

    def close(self) -> None:
        if self.app is not None:
            self.app.extensions["scimwatch"].close()
            self.app = None

    def add_key(self, days: float | None = None, **fields) -> dict:
        """Create a key through the API; `days` sets expires_at that many days after the clock."""
        if days is not None:
            fields["expires_at"] = (self.clock.now + datetime.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
        fields.setdefault("org_id", "org-1")
        fields.setdefault("notify", ["admin@example.com"])
        response = self.client.post("/api/v1/keys", json=fields, headers=self.headers)
        assert response.status_code == 201, response.json
        return response.json

    def rotate(self, key_id: str, **body) -> dict:
        response = self.client.post(f"/api/v1/keys/{key_id}/rotate", json=body, headers=self.headers)
        assert response.status_code == 200, response.json
        return response.json

    def run(self, dry_run: bool = False) -> dict:
        """Run one reminder cycle through the API and return its report."""
        query = "?dry_run=true" if dry_run else ""
        response = self.client.post(f"/api/v1/reminders/run{query}", headers=self.headers)
        assert response.status_code == 200, response.json
        return response.json

    def deliveries(self, key_id: str | None = None) -> list[dict]:
        query = f"?key_id={key_id}" if key_id else ""
        response = self.client.get(f"/api/v1/deliveries{query}", headers=self.headers)
        assert response.status_code == 200, response.json
        return response.json["deliveries"]

    def health(self) -> dict:
        """Return /healthz as an admin sees it (with the details)."""
        return self.client.get("/healthz", headers=self.headers).json
