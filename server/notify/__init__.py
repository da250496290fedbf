"""Reminders leaving the server: the delivery log and cycle, email building, mail transports, the loop.

`mail` is the only yagmail importer. May import `domain` and `store`.
"""
