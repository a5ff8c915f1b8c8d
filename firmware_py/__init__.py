"""dyadic's host side, in layers: ``contract`` (what the gateware and the host agree on:
configuration, protocol, cycle model, number formats), ``model`` (the golden model),
``device`` (the client of a board or a simulator), ``ui`` (the command line, the
benchmark). Each imports only the layers before it."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent      # the repository
