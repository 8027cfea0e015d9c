"""The `onboard` command-line tool: argparse glue over library functions."""
