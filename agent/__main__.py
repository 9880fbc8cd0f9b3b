"""``python -m agent`` is ``shopops``."""

from agent.cli import main

main()
