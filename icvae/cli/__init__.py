"""icvae's programs: the `icvae` command and its subcommands (absl binaries).

The top layer: it imports the library and nothing imports it. `icvae.cli.main` is the
command; each subcommand is a module here with a `main(argv)` (`train`, `evaluate`,
`encode`, ...); `icvae.cli.configs` finds the shipped flagfiles by name.
"""
