"""The HTTP face: blueprints (api, reminders_api, public), the one error shape, CORS.

May import `domain`, `store`, `notify` (and `sync` once it exists).
"""
