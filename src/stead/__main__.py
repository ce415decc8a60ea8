"""``python -m stead`` runs the CLI."""

from stead.cli.main import main

main()
