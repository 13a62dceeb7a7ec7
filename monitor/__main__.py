"""`python -m monitor` is the `monitor` command."""

from monitor.cli import cli

# The guard matters: parser worker processes are spawned, and a spawned child imports the main
# module again; without it every worker would start the command a second time.
if __name__ == "__main__":
    cli()
