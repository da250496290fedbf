"""Pure rules: times, expiry, keys, banners, reminders, the rotation runbook, tokens.

Imports the standard library only (no Flask, TinyDB, yagmail, Apprise): everything here is
tested without a server, a file or a network.
"""
