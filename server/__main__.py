"""Entry point: `python -m server` in a checkout (`python -m scimwatch` once installed)."""
from .cli import main

main(prog_name=f"python -m {__package__}")
