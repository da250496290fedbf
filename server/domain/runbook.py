"""Rotation runbook: the identity provider's own steps for replacing an expiring key (DESIGN §7). Pure."""
from __future__ import annotations

from dataclasses import dataclass

DOCS_URL = "https://support.atlassian.com/provisioning-users/docs/manage-scim-api-key-expiration/"
API_TOKEN_DOCS_URL = (
    "https://support.atlassian.com/atlassian-account/docs/manage-api-tokens-for-your-atlassian-account/")  # noqa: S105 (a docs link)
ADMIN_API_KEY_DOCS_URL = "https://support.atlassian.com/organization-administration/docs/manage-an-organization-with-the-admin-apis/"


@dataclass(frozen=True)
class IdentityProvider:
    """Where one identity provider keeps the SCIM token and how to check and recover."""

    name: str
    credential_form: str
    paste: str
    verify: str
    recover: str


IDENTITY_PROVIDERS = {
    "okta": IdentityProvider(
        name="Okta",
        credential_form="Okta: Applications → Atlassian Cloud → Provisioning → Integration",
        paste="In Okta, click Edit, paste the new key into API token, click Test API Credentials, then Save "
        "(403 Forbidden means the key was not pasted whole).",
        verify="Assign or update one test user in Okta and check it reaches Atlassian.",
        recover="Retry what failed during the gap: Okta Dashboard → Tasks → Retry Selected, "
        "then Push Groups → Retry All Groups.",
    ),
    "entra": IdentityProvider(
        name="Microsoft Entra ID",
        credential_form=("Entra admin center: Enterprise applications → Atlassian Cloud → Provisioning → "
                         "Admin Credentials"),
        paste="In Entra, paste the new key into Secret Token, click Test Connection, then Save.",
        verify="Use Provision on demand for one user and check it succeeds.",
        recover="Restart provisioning (Provisioning → Restart provisioning) to clear quarantine and "
        "pick up the changes missed during the gap.",
    ),
    "google": IdentityProvider(
        name="Google Cloud",
        credential_form="Google Admin console: Apps → Web and mobile apps → Atlassian Cloud → Autoprovisioning",
        paste="In the Google Admin console, open Autoprovisioning, paste the new key as the access token and save.",
        verify="Check that autoprovisioning shows as active and that one changed user reaches Atlassian.",
        recover="Review users changed during the gap and update any that did not reach Atlassian.",
    ),
    "onelogin": IdentityProvider(
        name="OneLogin",
        credential_form="OneLogin: Applications → Atlassian Cloud → Configuration",
        paste="In OneLogin, paste the new key into SCIM Bearer Token and click Save.",
        verify="Check that API Status shows Connected.",
        recover="Open Users → Provisioning and approve or retry the actions left pending during the gap.",
    ),
    "jumpcloud": IdentityProvider(
        name="JumpCloud",
        credential_form="JumpCloud: SSO Applications → Atlassian Cloud → Identity Management",
        paste="In JumpCloud, deactivate Identity Management, paste the new token, click Test, then reactivate it: "
        "JumpCloud requires deactivate → update token → reactivate.",
        verify="Check the Test succeeds and one changed user reaches Atlassian.",
        recover="After reactivating, check that users changed during the gap were provisioned.",
    ),
    "pingfederate": IdentityProvider(
        name="PingFederate",
        credential_form="PingFederate: SP connection for Atlassian Cloud → Outbound Provisioning → Target",
        paste="In PingFederate, paste the new key into API key on the Target screen and save the connection.",
        verify="The key is checked when the provisioning channel is activated: activate it and watch for errors.",
        recover="Re-activate the provisioning channel so it replays the changes missed during the gap.",
    ),
    "pingone": IdentityProvider(
        name="PingOne",
        credential_form="PingOne: Integrations → Provisioning → the Atlassian Cloud connection",
        paste="In PingOne, edit the connection's configuration, paste the new key as the SCIM bearer token and save.",
        verify="Test the connection and check one changed user reaches Atlassian.",
        recover="Re-enable the provisioning rule so it syncs the changes missed during the gap.",
    ),
    "other": IdentityProvider(
        name="your identity provider",
        credential_form="your identity provider's SCIM provisioning settings for Atlassian Cloud",
        paste="In your identity provider, paste the new key as the SCIM bearer token, test the connection and save.",
        verify="Push one test user and check it reaches Atlassian.",
        recover="Retry or re-sync whatever failed in the identity provider during the gap.",
    ),
}

KINDS = ("scim", "admin_api_key", "api_token")
KIND_NAMES = {"scim": "SCIM API key", "admin_api_key": "Admin API key", "api_token": "API token"}


def identity_provider(code: str) -> IdentityProvider:
    """Return the identity provider for a code, falling back to the generic one."""
    return IDENTITY_PROVIDERS.get(code, IDENTITY_PROVIDERS["other"])


def docs_url(kind: str) -> str:
    """Return Atlassian's documentation page for rotating this kind of key."""
    return {"admin_api_key": ADMIN_API_KEY_DOCS_URL, "api_token": API_TOKEN_DOCS_URL}.get(kind, DOCS_URL)


def org_url(org_id: str) -> str:
    """Return the link to an org in admin.atlassian.com (org ids are validated URL-safe)."""
    return f"https://admin.atlassian.com/o/{org_id}/overview"


# The steps every SCIM rotation shares, whatever the identity provider (DESIGN §7's universal order).
QUIET_WINDOW = ("Pick a quiet window: regenerating stops the old key at once, so provisioning pauses "
                "until the new key is saved in {idp}.")
REGENERATE = ("In admin.atlassian.com go to Security → Identity providers → {directory} → User provisioning, "
              "open the … menu and choose Regenerate API key.")
COPY_KEY = "Copy the new API key now: it is shown only once. The SCIM base URL does not change."
EXPIRY_CHECK = "In Atlassian, the key's expiry date should now be one year away."
RECORD = "Record the new expiry date in scimwatch (rotate the key) so the reminders re-arm."
# Where in the shared order each identity provider's own steps go (1-based).
PROVIDER_STEP_NUMBERS = (1, 5, 6, 7)


def rotation_steps(key) -> list[str]:
    """Return the numbered-order rotation steps for a key record, written for its identity provider."""
    kind = key.get("kind", "scim")
    if kind == "admin_api_key":
        return _admin_api_key_steps(key)
    if kind == "api_token":
        return _api_token_steps(key)
    idp = identity_provider(key.get("identity_provider", "other"))
    directory = key.get("directory_name") or "the directory"
    return [
        f"Before you start, open {idp.credential_form} in a second tab and check provisioning is healthy.",
        QUIET_WINDOW.format(idp=idp.name),
        REGENERATE.format(directory=directory),
        COPY_KEY,
        idp.paste,
        f"Verify: {idp.verify[0].lower()}{idp.verify[1:]} {EXPIRY_CHECK}",
        idp.recover,
        RECORD,
    ]


def shared_steps() -> list[str]:
    """Return the SCIM rotation in its universal order for keys of several identity providers.

    Steps 1, 5, 6 and 7 (PROVIDER_STEP_NUMBERS) say what to do in general; provider_steps fills them in.
    """
    return [
        "Before you start, open the identity provider's credential form in a second tab and check "
        "provisioning is healthy.",
        QUIET_WINDOW.format(idp="the identity provider"),
        REGENERATE.format(directory="the directory"),
        COPY_KEY,
        "Paste the new key into the identity provider, test the connection and save.",
        f"Verify that one changed user reaches Atlassian. {EXPIRY_CHECK}",
        "Retry what failed in the identity provider during the gap.",
        RECORD,
    ]


def provider_steps(code: str) -> list[tuple[int, str]]:
    """Return one identity provider's own steps, each with the number of the shared step it fills in."""
    idp = identity_provider(code)
    return list(zip(PROVIDER_STEP_NUMBERS,
                    (f"Open {idp.credential_form}.", idp.paste, idp.verify, idp.recover), strict=True))


def _admin_api_key_steps(key) -> list[str]:
    return [
        "List the integrations that use this org admin API key before you change anything.",
        "In admin.atlassian.com go to Settings → API keys and choose Create API key (at most one year).",
        "Copy the new key now: it is shown only once.",
        "Replace the old key in every integration and check each one works.",
        "Revoke the old key in Settings → API keys.",
        "Record the new expiry date in scimwatch (rotate the key) so the reminders re-arm.",
    ]


def _api_token_steps(key) -> list[str]:
    return [
        "List the scripts and tools that use this API token before you change anything.",
        "Sign in as the token's owner at id.atlassian.com → Security → API tokens and create a new token.",
        "Copy the new token now: it is shown only once.",
        "Replace the old token in every script or tool and check each one works.",
        "Revoke the old token on the same page.",
        "Record the new expiry date in scimwatch (rotate the key) so the reminders re-arm.",
    ]
