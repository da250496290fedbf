"""Entry point: `python -m server`."""
from .cli import main

main(prog_name="python -m server")
