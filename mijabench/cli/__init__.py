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
from mijabench.cli import annotate, audit, build, compare, dpo, guard, judge_eval, pairs, release

for _module in (build, audit, compare, annotate, pairs, guard, judge_eval, dpo, release):
    _module.register(app, build_app)


try:  # typer >= 0.24 vendors click; older versions raise click's own exceptions
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover
    from click.exceptions import ClickException, NoArgsIsHelpError, UsageError


def _version(value: bool) -> None:
    if value:
        from mijabench import __version__
        typer.echo(f"mijabench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", is_eager=True, callback=_version,
                                       help="Print the mijabench version and exit.")) -> None:
    """MiJaBench: per-group jailbreak safety audits, datasets and alignment."""


def _error(message: str) -> None:
    """One ``error:`` line on stderr; newlines inside the message are folded."""
    typer.secho("error: " + " ".join(str(message).split()), fg="red", err=True)


def _usage_error(exc: UsageError) -> int:
    if isinstance(exc, NoArgsIsHelpError):  # bare ``mijabench build``: the help is the answer
        exc.show()
        return exc.exit_code
    ctx = exc.ctx
    hint = f"; see '{ctx.command_path} --help'" if ctx is not None else "; see 'mijabench --help'"
    _error(exc.format_message().rstrip(".") + hint)
    return 2


def main() -> None:
    """Run the CLI: bad input and usage errors end with one ``error:`` line, never a traceback."""
    try:
        app(standalone_mode=False, prog_name="mijabench")
    except MijaError as exc:
        _error(str(exc))
        sys.exit(2)
    except (typer.Exit, SystemExit) as exc:
        code = getattr(exc, "exit_code", getattr(exc, "code", 0))
        sys.exit(code or 0)
    except (typer.Abort, KeyboardInterrupt):
        _error("interrupted; re-run the same command to resume")
        sys.exit(130)
    except UsageError as exc:
        sys.exit(_usage_error(exc))
    except ClickException as exc:
        _error(exc.format_message())
        sys.exit(exc.exit_code or 1)
    except OSError as exc:  # disk full, permissions, a path that vanished: the user's to fix
        where = f"{exc.filename}: " if exc.filename else ""
        _error(f"{where}{exc.strerror or type(exc).__name__}; check the path and its permissions")
        sys.exit(1)
