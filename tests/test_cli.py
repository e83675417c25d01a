"""The command line as a whole: every usage error is one ``error:`` line + exit 2, ``--version``,
help texts that show flags as flags and end with a runnable example, one spelling per option."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import ROOT
from test_faults import cli


def _commands():
    """``(path, click command)`` for every leaf subcommand of ``mijabench``."""
    import typer

    from mijabench.cli import app
    found = []

    def walk(cmd, path):
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, [*path, name])
        else:
            found.append((tuple(path), cmd))

    walk(typer.main.get_command(app), [])
    return found


COMMANDS = _commands()
IDS = [" ".join(path) for path, _ in COMMANDS]


def test_the_walk_finds_every_command():
    assert {"audit", "judge", "pairs", "release", "build mijabench", "annotate import",
            "publish-model", "metric-path"} <= set(IDS)


@pytest.mark.parametrize("path, command", COMMANDS, ids=IDS)
def test_unknown_option_is_one_error_line_and_exit_2(path, command):
    result = cli(*path, "--no-such-option")
    assert result.code == 2 and "Traceback" not in result.err
    assert result.err.strip().splitlines() == [result.err.strip()]
    assert result.err.startswith("error: No such option: --no-such-option")
    assert f"see 'mijabench {' '.join(path)} --help'" in result.err


@pytest.mark.parametrize("path, command", [(p, c) for p, c in COMMANDS
                                           if any(q.required for q in c.params)],
                         ids=[i for i, (_, c) in zip(IDS, COMMANDS) if any(q.required for q in c.params)])
def test_missing_required_option_is_one_error_line_and_exit_2(path, command):
    result = cli(*path)
    assert result.code == 2 and "Traceback" not in result.err
    assert result.err.strip().splitlines() == [result.err.strip()]
    assert result.err.startswith("error: Missing ")


@pytest.mark.parametrize("args, message", [
    (["nope"], "error: No such command 'nope'"),
    (["audit", "--limit", "many"], "error: Invalid value for '--limit'"),
    (["build", "mijabench", "--seed"], "error: Option '--seed' requires an argument"),
])
def test_other_usage_errors_are_one_line(args, message):
    result = cli(*args)
    assert result.code == 2 and result.err.startswith(message), result.err
    assert len(result.err.strip().splitlines()) == 1


def test_version():
    from mijabench import __version__
    result = cli("--version")
    assert result.code == 0 and result.out.strip() == f"mijabench {__version__}"


def test_the_installed_entry_point_exits_2_without_a_traceback():
    exe = ROOT / ".venv" / "bin" / "mijabench"
    cmd = [str(exe)] if exe.is_file() else [sys.executable, "-m", "mijabench"]
    proc = subprocess.run([*cmd, "audit", "--bogus"], check=False, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("path, command", COMMANDS, ids=IDS)
def test_help_shows_flags_as_flags_and_ends_with_an_example(path, command):
    result = cli(*path, "--help")
    assert result.code == 0
    assert "<bool>" not in result.out, result.out
    # an off-by-default flag is just --flag; --x / --no-x only where the default is on
    pairs = [q.opts for q in command.params if getattr(q, "secondary_opts", None) and q.default is not True]
    assert pairs == [], pairs
    tail = result.out.rstrip().splitlines()
    examples = [line.strip() for line in tail[tail.index(next(
        line for line in tail if line.strip() in ("Example:", "Examples:"))) + 1:]]
    assert examples and all(e.startswith(("mijabench ", "--")) for e in examples)
    assert examples[0].startswith(f"mijabench {' '.join(path)}")


def test_one_spelling_for_held_out_groups_and_strategies():
    spellings = set()
    for _, command in COMMANDS:
        for param in command.params:
            spellings.update(o for o in param.opts if re.search(r"hold.?out|held.?out", o))
    assert spellings == {"--held-out-groups", "--held-out-strategies"}


def test_endpoint_only_ever_names_a_model_server():
    users = {" ".join(p) for p, c in COMMANDS for q in c.params if "--endpoint" in q.opts}
    assert users == {"audit"}


def test_every_push_is_private_unless_asked():
    release = dict(COMMANDS)[("release",)]
    assert "--private" not in {o for q in release.params for o in q.opts}
    assert "--public" in {o for q in release.params for o in q.opts}
