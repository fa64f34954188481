"""`python -m icvae ...`: the `icvae` command (`icvae.cli.main`)."""

from icvae.cli import main

main.main()
