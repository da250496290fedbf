"""The one palette of severity labels and colours, shared by the email and the banners. Pure.

widget/scim-banner.js carries the same colours in its CSS (a test renders the widget in chromium
and compares what it draws with these values); change both together.
Colours follow the Atlassian Design System: bold danger for expired, subtle fills otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Style:
    """How one severity looks: its label, the bar's fill and text, its icon, and its line on neutral ground."""

    label: str
    fill: str
    text: str
    icon: str
    line: str


LIGHT = {
    "expired": Style("Expired", fill="#C9372C", text="#FFFFFF", icon="#FFFFFF", line="#C9372C"),
    "critical": Style("Critical", fill="#FFECEB", text="#172B4D", icon="#C9372C", line="#C9372C"),
    "warning": Style("Warning", fill="#FFF7D6", text="#172B4D", icon="#A54800", line="#A54800"),
    "info": Style("Info", fill="#E9F2FF", text="#172B4D", icon="#0C66E4", line="#0C66E4"),
}
DARK = {
    "expired": Style("Expired", fill="#C9372C", text="#FFFFFF", icon="#FFFFFF", line="#E2483D"),
    "critical": Style("Critical", fill="#42221F", text="#DEE4EA", icon="#F87168", line="#F87168"),
    "warning": Style("Warning", fill="#332E1B", text="#DEE4EA", icon="#F5CD47", line="#F5CD47"),
    "info": Style("Info", fill="#1C2B41", text="#DEE4EA", icon="#579DFF", line="#579DFF"),
}


@dataclass(frozen=True)
class Surface:
    """The neutral ground the list of keys (and the email) sits on."""

    background: str
    text: str
    muted: str
    border: str
    link: str


LIGHT_SURFACE = Surface(background="#FFFFFF", text="#172B4D", muted="#44546F", border="#DCDFE4", link="#0C66E4")
DARK_SURFACE = Surface(background="#22272B", text="#DEE4EA", muted="#9FADBC", border="#38414A", link="#579DFF")


def style(severity: str | None) -> Style:
    """Return the light style of a severity (info for anything unknown)."""
    return LIGHT.get(severity or "info", LIGHT["info"])
