"""Settings: parsed strictly, every one documented in the README with its real default."""
import re

import pytest
from conftest import ROOT

from server.settings import FILE_SETTINGS, PREFIX, SETTINGS, ConfigError, load

README = (ROOT / "README.md").read_text()


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_setting_is_in_the_readme_with_its_default(setting):
    row = re.search(rf"^\| `{PREFIX}{setting.name}`.*$", README, re.MULTILINE)
    assert row, f"{PREFIX}{setting.name} is missing from the README's configuration table"
    default = f"`{setting.default}`" if setting.default else "empty"
    assert row.group(0).split("|")[2].strip() == default
    assert row.group(0).split("|")[3].strip() == setting.help


def test_the_readme_names_no_setting_that_does_not_exist():
    known = {PREFIX + s.name for s in SETTINGS} | {PREFIX + name + "_FILE" for name in FILE_SETTINGS}
    assert set(re.findall(r"SCIMWATCH_[A-Z_]+[A-Z]", README)) <= known


def test_defaults_parse():
    values = load({})
    assert values["PORT"] == 8080 and values["THRESHOLDS"] == (30, 14, 7, 3, 1)
    assert values["PUBLIC_BANNERS"] is False and values["BANNER_ORIGINS"] == ()


def test_lists_are_trimmed_and_deduplicated():
    values = load({"SCIMWATCH_NOTIFY": " a@x.example, b@x.example ,a@x.example",
                   "SCIMWATCH_BANNER_ORIGINS": "https://Intranet.Example.com, http://localhost:3000",
                   "SCIMWATCH_THRESHOLDS": "7, 30,7"})
    assert values["NOTIFY"] == ("a@x.example", "b@x.example")
    assert values["BANNER_ORIGINS"] == ("https://intranet.example.com", "http://localhost:3000")
    assert values["THRESHOLDS"] == (30, 7)


@pytest.mark.parametrize("environ, names", [
    ({"SCIMWATCH_BANNER_ORIGINS": "https://intranet.example.com/path"}, "SCIMWATCH_BANNER_ORIGINS"),
    ({"SCIMWATCH_MAIL_BACKEND": "smtp"}, "SCIMWATCH_SMTP_HOST"),
    ({"SCIMWATCH_ADMIN_TOKEN": "a", "SCIMWATCH_ADMIN_TOKEN_FILE": "/x"}, "SCIMWATCH_ADMIN_TOKEN"),
    ({"SCIMWATCH_MAIL_FROM": "not an address"}, "SCIMWATCH_MAIL_FROM"),
    ({"SCIMWATCH_MAIL_FROM": "zoë@localhost"}, "SCIMWATCH_MAIL_FROM"),
    ({"SCIMWATCH_NOTIFY": "ops@example.com,zoë@example.com"}, "SCIMWATCH_NOTIFY"),
    # Digits of other scripts pass str.isdigit and int(); a setting takes ASCII digits only.
    ({"SCIMWATCH_PORT": "\u0668\u0660\u0668\u0660"}, "SCIMWATCH_PORT"),
    ({"SCIMWATCH_PORT": "\uff18\uff10"}, "SCIMWATCH_PORT"),
    ({"SCIMWATCH_THRESHOLDS": "30,\u0667"}, "SCIMWATCH_THRESHOLDS"),
    ({"SCIMWATCH_THRESHOLDS": "\u00b9"}, "SCIMWATCH_THRESHOLDS"),
])
def test_bad_values_are_refused_naming_the_variable(environ, names):
    with pytest.raises(ConfigError) as raised:
        load(environ)
    assert str(raised.value).startswith(names)
