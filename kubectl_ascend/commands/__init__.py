"""Subcommands, one module per area; kubectl_ascend.cli.LAZY_COMMANDS maps names to them."""
