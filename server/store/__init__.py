"""The data folder: storage (the only TinyDB importer) and the key registry over it.

May import `domain`.
"""
