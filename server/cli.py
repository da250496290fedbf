"""Command line: `python -m server` serves; subcommands manage keys and tokens."""
from __future__ import annotations

import json
import os
import unicodedata

import click

from . import settings as settings_module
from .app import create_app
from .domain.keys import ValidationError
from .domain.times import utcnow
from .domain.tokens import SCOPES
from .notify import scheduler
from .notify.deliveries import service_for
from .store.registry import KeyNotFound
from .store.storage import StorageError, Store


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


def report_invalid(error: ValidationError):
    """Turn a validation error into a CLI error listing each field."""
    lines = "\n".join(f"  --{name.replace('_', '-')}: {text}" for name, text in error.fields.items())
    return click.ClickException(f"the key is not valid:\n{lines}")


# Controls, format characters (bidi controls, zero-width ones), surrogates and line or paragraph
# separators: a hand-edited data file may hold them, and raw they would rewrite or hide the listing.
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


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
    from .serve import run

    app = open_app()
    context = app.extensions["scimwatch"]
    config = context.settings
    try:
        token = context.ensure_admin_token()
        if token:
            click.echo("First start: generated an admin token. It is shown only this once; store it now:")
            click.echo(f"  SCIMWATCH admin token: {token}")
        click.echo(f"data file: {context.store.data_file}")
        run(app, config["HOST"], config["PORT"], services=[scheduler.start])
    except OSError as error:
        raise click.ClickException(f"cannot listen on {config['HOST']}:{config['PORT']}: {error.strerror}") from None
    finally:
        context.close()


@main.command()
@click.option("--dry-run", is_flag=True, help="send nothing; print what is due")
def remind(dry_run):
    """Run one reminder cycle now (refused while a server holds the data folder)."""
    app = open_app()
    try:
        report = service_for(app).run_cycle(dry_run=dry_run)
    finally:
        app.extensions["scimwatch"].close()
    for item in report["due"]:
        click.echo(f"{item['status']:9} {item['stage']:12} {item['recipient']}  key {item['key_id']}  "
                   f"expires {item['expires_at']}" + (f"  ({item['error']})" if item.get("error") else ""))
    count = len(report["due"]) if dry_run else report["sent"]
    outcome = "due" if dry_run else f"sent, {report['failed']} failed in {report['messages']} emails"
    click.echo(f"{count} reminder{'s' if count != 1 else ''} {outcome}")
    if report["failed"]:
        raise SystemExit(1)


@main.group()
def keys():
    """Add, list, rotate and remove key records."""


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
@click.option("--threshold", "thresholds", multiple=True, type=int, help="days before expiry; repeat for several")
def keys_add(**options):
    """Record a key's expiry (never its value)."""
    fields = {name: value for name, value in options.items() if value not in (None, ())}
    for name in ("notify", "thresholds"):
        if name in fields:
            fields[name] = list(fields[name])
    app = open_app()
    try:
        record = app.extensions["scimwatch"].registry.add(fields, utcnow())
    except ValidationError as error:
        raise report_invalid(error) from None
    finally:
        app.extensions["scimwatch"].close()
    click.echo(json.dumps(record, indent=2))


@keys.command("list")
@click.option("--org-id", help="only this org's keys")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
def keys_list(org_id, as_json):
    """List key records, soonest expiry first (works while the server runs)."""
    app = open_app(readonly=True)
    records = app.extensions["scimwatch"].registry.list(org_id)
    if as_json:
        click.echo(json.dumps({"keys": records}, indent=2))
        return
    if not records:
        click.echo("no keys recorded")
    for record in records:
        name = record["directory_name"] or record["label"] or record["directory_id"] or "-"
        columns = (record["expires_at"], record["id"], record["org_id"], name, f"({record['identity_provider']})")
        click.echo("  ".join(_visible(str(column)) for column in columns))


@keys.command("rotate")
@click.argument("key_id")
@click.option("--expires-at", help="new expiry; default rotated-at + 365 days")
@click.option("--rotated-at", help="when the key was regenerated; default now")
def keys_rotate(key_id, expires_at, rotated_at):
    """Record that a key was regenerated."""
    body = {name: value for name, value in (("expires_at", expires_at), ("rotated_at", rotated_at)) if value}
    app = open_app()
    try:
        record = app.extensions["scimwatch"].registry.rotate(key_id, body, utcnow())
    except ValidationError as error:
        raise report_invalid(error) from None
    except KeyNotFound:
        raise click.ClickException(f"no key with id {key_id!r}") from None
    finally:
        app.extensions["scimwatch"].close()
    click.echo(json.dumps(record, indent=2))


@keys.command("remove")
@click.argument("key_id")
def keys_remove(key_id):
    """Delete a key record."""
    app = open_app()
    try:
        app.extensions["scimwatch"].registry.remove(key_id)
    except KeyNotFound:
        raise click.ClickException(f"no key with id {key_id!r}") from None
    finally:
        app.extensions["scimwatch"].close()
    click.echo(f"removed {key_id}")


@main.group()
def tokens():
    """Create, list and revoke bearer tokens."""


@tokens.command("create")
@click.option("--scope", type=click.Choice(SCOPES), required=True, help="read: banners only; admin: everything")
@click.option("--label", default="", help="what the token is for")
def tokens_create(scope, label):
    """Create a token and print it once (only its hash is stored)."""
    app = open_app()
    try:
        token = app.extensions["scimwatch"].issue_token(scope, label)
    finally:
        app.extensions["scimwatch"].close()
    click.echo(f"created a {scope} token; it is shown only once:", err=True)
    click.echo(token)


@tokens.command("list")
def tokens_list():
    """List tokens by id, scope and label (the tokens themselves are not stored)."""
    app = open_app(readonly=True)
    records = sorted(app.extensions["scimwatch"].tokens.all(), key=lambda r: r["created_at"])
    if not records:
        click.echo("no tokens stored (SCIMWATCH_ADMIN_TOKEN, when set, is not listed)")
    for record in records:
        click.echo(f"{record['id']}  {record['scope']:5}  {record['created_at']}  {record['label'] or '-'}")


@tokens.command("revoke")
@click.argument("token_id")
def tokens_revoke(token_id):
    """Revoke a token by its id (from `tokens list`); stop the server first, it answers 401 from its next start."""
    app = open_app()
    try:
        revoked = app.extensions["scimwatch"].tokens.remove(token_id)
    finally:
        app.extensions["scimwatch"].close()
    if not revoked:
        raise click.ClickException(f"no token with id {token_id!r}; `python -m server tokens list` shows them")
    click.echo(f"revoked {token_id}")
