"""The ``mijabench`` command line.

Each command group registers its subcommands from one module of this package, named after
its commands, so this file stays a table of contents. Heavy libraries (torch, transformers) are imported inside commands only,
so ``mijabench --help`` stays fast.
"""

from __future__ import annotations

import sys

import typer

from mijabench.errors import MijaError

# No Rich markup in help texts: it would swallow the brackets of URL[|URL...][#model].
app = typer.Typer(help="MiJaBench: per-group jailbreak safety audits, datasets and alignment.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  rich_markup_mode=None)
build_app = typer.Typer(help="Build a Hub dataset folder (Parquet shards + dataset card).",
                        no_args_is_help=True, rich_markup_mode=None)
app.add_typer(build_app, name="build")

# Each module defines ``register(app, build_app)``.
from mijabench.cli import annotate, audit, build, dpo, guard, pairs, release  # noqa: E402

for _module in (build, audit, annotate, pairs, guard, dpo, release):
    _module.register(app, build_app)


def main() -> None:
    try:
        app(standalone_mode=False)
    except MijaError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(2)
    except (typer.Exit, SystemExit) as exc:
        code = getattr(exc, "exit_code", getattr(exc, "code", 0))
        sys.exit(code or 0)
    except typer.Abort:
        sys.exit(130)
    except Exception as exc:  # click usage errors come through here in non-standalone mode
        import click
        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
