"""Command line: `python -m server` serves; subcommands manage keys and tokens, remind and sync."""
from __future__ import annotations

import codecs
import contextlib
import json
import os
import re
import unicodedata
from pathlib import Path

import click

from . import cli_access
from . import settings as settings_module
from .app import create_app
from .domain import expiry
from .domain.key_files import ImportInvalid
from .domain.keys import ValidationError
from .domain.times import parse_time, utcnow
from .domain.tokens import SCOPES
from .domain.words import counted
from .notify import deliveries, scheduler
from .notify.mail import OUTBOX_FOLDER
from .store import exchange
from .store.files import DataFolderBusy, StorageError, write_file
from .store.registry import KeyNotFound
from .store.schema import check_backup
from .store.storage import Store
from .store.tokens import TokenNotFound
from .sync import service as sync_service

# `keys list` shows this many characters of an id; rotate and remove accept them.
SHORT_ID = 8
# The org id in admin.atlassian.com/o/{org_id}/ is a UUID.
UUID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z", re.ASCII | re.IGNORECASE)


class WholeDays(click.ParamType):
    """A number of days in ASCII digits: click's int, like int(), would take other scripts' digits too."""

    name = "days"

    def convert(self, value, param, ctx):
        """Return the days as an int, or fail saying the value is not a whole number of days."""
        if isinstance(value, int) or (isinstance(value, str) and value.isascii() and value.isdigit()):
            return int(value)
        self.fail(f"{value!r} is not a whole number of days (digits 0-9)", param, ctx)


DAYS = WholeDays()


def load_settings() -> dict:
    """Parse the environment, or stop with a message naming the bad variable."""
    try:
        return settings_module.load(os.environ)
    except settings_module.ConfigError as error:
        raise click.ClickException(f"configuration error: {error}") from None


def open_app(readonly: bool = False):
    """Return an app over the data folder, or stop with a clear message."""
    config = load_settings()
    try:
        store = Store(config["DATA_DIR"], readonly=readonly)
    except StorageError as error:
        raise click.ClickException(str(error)) from None
    return create_app(store=store)


@contextlib.contextmanager
def access(*, readonly: bool = False):
    """Yield the CLI's operations, in this process or through the running server; map their errors."""
    try:
        operations = cli_access.open_access(load_settings(), readonly=readonly)
    except StorageError as error:
        raise click.ClickException(str(error)) from None
    try:
        yield operations
    except (cli_access.LocalAccessError, sync_service.SyncNotConfigured) as error:
        raise click.ClickException(str(error)) from None
    finally:
        operations.close()


def report_invalid(error: ValidationError):
    """Turn a validation error into a CLI error listing each field."""
    lines = "\n".join(f"  --{name.replace('_', '-')}: {text}" for name, text in error.fields.items())
    return click.ClickException(f"the key is not valid:\n{lines}")


# Controls, format characters (bidi controls, zero-width ones), surrogates and line or paragraph
# separators: a hand-edited data file may hold them, and raw they would rewrite or hide the listing.
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def _cell(text: str, width: int = 32) -> str:
    """Return a table cell: visible characters only, cut to `width` with an ellipsis."""
    text = _visible(text)
    return text if len(text) <= width else text[:width - 1] + "…"


def _visible(text: str) -> str:
    """Return text for a terminal line, with every invisible or controlling character escaped."""
    return "".join(char.encode("unicode_escape").decode("ascii")
                   if unicodedata.category(char) in _INVISIBLE else char for char in text)


@click.group(invoke_without_command=True)
@click.pass_context
def main(ctx):
    """scimwatch: warns before Atlassian SCIM API keys expire. Without a command, serves."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve)


@main.command()
def serve():
    """Serve the API with waitress (SCIMWATCH_HOST/SCIMWATCH_PORT) until SIGINT or SIGTERM."""
    from . import serve as serving

    app = open_app()
    context = app.extensions["scimwatch"]
    config = context.settings
    try:
        server = serving.listen(app, config["HOST"], config["PORT"])
        # Only once the address is ours: a first-start token printed above a start-up error gets missed.
        token = context.ensure_admin_token()
        ui_url = serving.urls(server)[0] + "/ui/"
        if token:
            click.echo("First start: generated an admin token. It is shown only this once; store it now:")
            click.echo(f"  SCIMWATCH admin token: {token}")
            click.echo(f"  Sign in at {ui_url} with it.")
        else:
            click.echo(f"admin UI: {ui_url} (sign in with an admin token)")
        click.echo(f"data file: {context.store.data_file}")
        for line in start_up_notes(config):
            click.echo(line)
        serving.serve(server, app, services=[scheduler.start, sync_service.start,
                                                       cli_access.start])
    except serving.CannotListen as error:
        raise click.ClickException(f"{settings_module.PREFIX}{error.setting}: {error}") from None
    finally:
        context.close()


def start_up_notes(config: dict) -> list[str]:
    """Return what a self-hoster must know at start: where mail goes, when checks run, what relays junk."""
    every = config["CHECK_MINUTES"]
    notes = [f"reminder checks: now, then every {counted(every, 'minute')}"]
    if config["MAIL_BACKEND"] == "outbox":
        outbox = Path(config["DATA_DIR"]) / OUTBOX_FOLDER
        notes.append(f"mail: OUTBOX mode, nothing is emailed; reminders are written as .eml files to {outbox} "
                     "(set SCIMWATCH_MAIL_BACKEND=smtp and SCIMWATCH_SMTP_HOST to send them)")
        return notes
    notes.append(f"mail: sent through {config['SMTP_HOST']}:{config['SMTP_PORT']} ({config['SMTP_SECURITY']}) "
                 f"from {config['MAIL_FROM']}")
    domain = config["MAIL_FROM"].rpartition("@")[2].lower()
    # The Message-ID carries the sender's domain too (email_message.new_message_id).
    if domain == "localhost" or "." not in domain:
        notes.append(f"warning: SCIMWATCH_MAIL_FROM is {config['MAIL_FROM']}: relays such as Microsoft 365 and "
                     "Gmail junk or refuse mail whose sender and Message-ID domain is not a real domain; set it to "
                     "an address of your own domain")
    return notes


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup(file):
    """Write a consistent copy of the data file to FILE (through the running server when there is one)."""
    with access() as operations:
        content = operations.backup()
    target = file.resolve()
    try:
        write_file(target.parent, target.name, content)
    except OSError as error:
        raise click.ClickException(f"cannot write {file}: {error.strerror or error}") from None
    click.echo(f"backup written to {file} ({len(content)} bytes)")


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
def restore(file):
    """Replace the data file with FILE, checked first; only while the server is stopped (keeps the old file)."""
    config = load_settings()
    try:
        content = file.read_bytes()
        check_backup(content, file)
        store = Store(config["DATA_DIR"])
    except DataFolderBusy:
        raise click.ClickException("a server holds the data folder: stop it, then restore") from None
    except (StorageError, OSError) as error:
        raise click.ClickException(str(error)) from None
    try:
        kept = store.restore(content, file)
    except (StorageError, OSError) as error:
        raise click.ClickException(str(error)) from None
    finally:
        store.close()
    click.echo(f"restored {file}; the previous data file was kept as {kept}")


@main.command()
@click.option("--dry-run", is_flag=True, help="send nothing; print what is due")
def remind(dry_run):
    """Run one reminder cycle now (in the running server when there is one)."""
    with access() as operations:
        report = operations.remind(dry_run)
    for item in report["due"]:
        click.echo(f"{item['status']:9} {item['stage']:12} {item['recipient']}  key {item['key_id']}  "
                   f"expires {item['expires_at']}" + (f"  ({item['error']})" if item.get("error") else ""))
    count = len(report["due"]) if dry_run else report["sent"]
    outcome = "due" if dry_run else f"sent, {report['failed']} failed in {deliveries.messages_text(report)}"
    click.echo(f"{counted(count, 'reminder')} {outcome}")
    if report["failed"]:
        raise SystemExit(1)


@main.group()
def keys():
    """Add, list, rotate, remove, import and export key records."""


@keys.command("add")
@click.option("--org-id", required=True, help="UUID from admin.atlassian.com/o/{org_id}/")
@click.option("--expires-at", required=True, help="RFC 3339 time or date, e.g. 2026-12-06")
@click.option("--org-name")
@click.option("--directory-id")
@click.option("--directory-name")
@click.option("--identity-provider", "--idp", "identity_provider")
@click.option("--kind")
@click.option("--label")
@click.option("--notes")
@click.option("--notify", multiple=True, help="email address; repeat for several")
@click.option("--threshold", "thresholds", multiple=True, type=DAYS, help="days before expiry; repeat for several")
def keys_add(**options):
    """Record a key's expiry (never its value)."""
    fields = {name: value for name, value in options.items() if value not in (None, ())}
    for name in ("notify", "thresholds"):
        if name in fields:
            fields[name] = list(fields[name])
    if "org_id" in fields and not UUID_PATTERN.match(fields["org_id"]):
        click.echo(f"warning: --org-id {fields['org_id']!r} is not a UUID; the org id in "
                   "admin.atlassian.com/o/{org_id}/ is one, and links built from this one will not open", err=True)
    with access() as operations:
        try:
            record = operations.add_key(fields)
        except ValidationError as error:
            raise report_invalid(error) from None
    click.echo(json.dumps(record, indent=2))


@keys.command("list")
@click.option("--org-id", help="only this org's keys")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
def keys_list(org_id, as_json):
    """List key records, soonest expiry first (works while the server runs)."""
    with access(readonly=True) as operations:
        records = operations.list_keys(org_id)
    if as_json:
        click.echo(json.dumps({"keys": records}, indent=2))
        return
    if not records:
        click.echo("no keys recorded")
        return
    now = utcnow()
    rows = [("STATUS", "DAYS", "DIRECTORY", "ORG", "EXPIRES (UTC)", "ID")]
    for record in records:
        expires_at = parse_time(record["expires_at"])
        rows.append((expiry.severity(expires_at, now) or "ok", str(expiry.days_left(expires_at, now)),
                     _cell(record["directory_name"] or record["label"] or record["directory_id"] or "-"),
                     _cell(record["org_name"] or record["org_id"], 36), record["expires_at"], record["id"][:SHORT_ID]))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.rjust(width) if column == 1 else cell.ljust(width)
                             for column, (cell, width) in enumerate(zip(row, widths, strict=True))).rstrip())


def full_id(operations, key_id: str) -> str:
    """Return the key id that a short id from `keys list` stands for (the id itself when none or several)."""
    if len(key_id) < SHORT_ID:
        return key_id
    matches = [record["id"] for record in operations.list_keys(None) if record["id"].startswith(key_id)]
    return matches[0] if len(matches) == 1 else key_id


@keys.command("rotate")
@click.argument("key_id")
@click.option("--expires-at", help="new expiry; default rotated-at + 365 days")
@click.option("--rotated-at", help="when the key was regenerated; default now")
def keys_rotate(key_id, expires_at, rotated_at):
    """Record that a key was regenerated (KEY_ID: the id, or the short id `keys list` shows)."""
    body = {name: value for name, value in (("expires_at", expires_at), ("rotated_at", rotated_at)) if value}
    with access() as operations:
        try:
            record = operations.rotate_key(full_id(operations, key_id), body)
        except ValidationError as error:
            raise report_invalid(error) from None
        except KeyNotFound:
            raise click.ClickException(f"no key with id {key_id!r}") from None
    click.echo(json.dumps(record, indent=2))


@keys.command("remove")
@click.argument("key_id")
def keys_remove(key_id):
    """Delete a key record (KEY_ID: the id, or the short id `keys list` shows)."""
    with access() as operations:
        try:
            operations.remove_key(full_id(operations, key_id))
        except KeyNotFound:
            raise click.ClickException(f"no key with id {key_id!r}") from None
    click.echo(f"removed {key_id}")


def _media_type(name: str, data: bytes) -> str:
    """Return the media type of an import file: by its extension, else JSON when it starts with {."""
    if name.lower().endswith((".json", ".csv")):
        return exchange.FORMATS[name.lower().rsplit(".", 1)[1]]
    return exchange.FORMATS["json" if data.removeprefix(codecs.BOM_UTF8).lstrip()[:1] == b"{" else "csv"]


@keys.command("import")
@click.argument("file", type=click.File("rb"))
@click.option("--dry-run", is_flag=True, help="check every row and count what would change; write nothing")
def keys_import(file, dry_run):
    """Create or update key records from a CSV or JSON file (all rows or none; - reads standard input)."""
    data = file.read(exchange.MAX_IMPORT_BYTES + 1)
    if len(data) > exchange.MAX_IMPORT_BYTES:
        raise click.ClickException(exchange.TOO_LARGE)
    with access() as operations:
        try:
            report = operations.import_keys(data, _media_type(getattr(file, "name", ""), data), dry_run)
        except ImportInvalid as error:
            lines = [f"  row {row['row']}: " + "; ".join(f"{field}: {text}" for field, text in row["fields"].items())
                     for row in error.rows]
            raise click.ClickException("\n".join([error.message, *lines])) from None
    counts = f"{report['created']} created, {report['updated']} updated, {report['unchanged']} unchanged"
    click.echo(f"dry run, nothing written: {counts}" if dry_run else counts)


@keys.command("export")
@click.option("--format", "file_format", type=click.Choice(tuple(exchange.FORMATS)), default="csv",
              help="csv (opens in spreadsheets; formula-like cells start with ') or json")
def keys_export(file_format):
    """Write every key record to standard output as CSV or JSON (works while the server runs)."""
    with access(readonly=True) as operations:
        data = operations.export_keys(file_format)
    click.echo(data, nl=False)  # bytes go to the binary stream as they are


@main.command()
def sync():
    """Run one Atlassian sync now (in the running server when there is one) and show each org's status."""
    with access() as operations:
        state = operations.sync()
    for org in state["orgs"]:
        click.echo(f"{org['org_id']}  {org['status']}  last sync {org['last_sync_at'] or 'never'}"
                   + (f"  ({org['error']})" if org["error"] else ""))
    for directory in state["untracked"]:
        click.echo(f"untracked directory: {directory['org_id']}  {directory['directory_id']}  {directory['name']}")
    if any(org["status"] != "ok" for org in state["orgs"]):
        raise SystemExit(1)


@main.group()
def tokens():
    """Create, list and revoke bearer tokens."""


@tokens.command("create")
@click.option("--scope", type=click.Choice(SCOPES), required=True,
              help="admin: everything; read: banners; track: banners and observations; calendar: the ICS feed; "
              "metrics: /metrics")
@click.option("--label", default="", help="what the token is for")
def tokens_create(scope, label):
    """Create a token and print it once (only its hash is stored)."""
    with access() as operations:
        try:
            token = operations.issue_token(scope, label)
        except ValidationError as error:
            raise click.ClickException(f"the token is not valid: {error}") from None
    click.echo(f"created a {scope} token; it is shown only once:", err=True)
    click.echo(token)


@tokens.command("list")
def tokens_list():
    """List tokens by id, scope, label and last use (the tokens themselves are not stored)."""
    with access(readonly=True) as operations:
        views = operations.list_tokens()
    if not views:
        click.echo("no tokens stored (SCIMWATCH_ADMIN_TOKEN, when set, is not listed)")
    for view in views:
        click.echo(f"{view['id']}  {view['scope']:8}  {view['created_at']}  "
                   f"used {view['last_used_at'] or 'never':20}  {_visible(view['label'] or '-')}")


@tokens.command("revoke")
@click.argument("token_id")
def tokens_revoke(token_id):
    """Revoke a token by its id (from `tokens list`); a running server refuses it from the next request on."""
    with access() as operations:
        try:
            operations.revoke_token(token_id)
        except TokenNotFound:
            raise click.ClickException(f"no token with id {token_id!r}; `python -m server tokens list` shows them") \
                from None
    click.echo(f"revoked {token_id}")
