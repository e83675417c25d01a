"""Where the authors' released rows come from: local files or a Hub dataset at a pinned revision.

A ``--from-upstream`` value that is an existing file is read as is. One that looks like
``ORG/NAME`` (and is not a file) is a Hub dataset: ``datasets`` resolves its data files for the
config (the card's ``configs``, or the default layout) at ``--revision``, and ``huggingface_hub``
downloads exactly those files into its cache, so the import then streams local files like any
other. A Hub source needs a revision, so an import can be repeated exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mijabench.errors import MijaError
from mijabench.tables import CSV_SUFFIXES, JSONL_SUFFIXES, PARQUET_SUFFIXES

HUB_ID = re.compile(r"[A-Za-z0-9][\w.\-]*/[A-Za-z0-9][\w.\-]*")
TABLE_SUFFIXES = CSV_SUFFIXES + JSONL_SUFFIXES + PARQUET_SUFFIXES


@dataclass(frozen=True)
class UpstreamFile:
    path: Path    # a local file (the Hub's are in the Hub cache)
    label: str    # how messages name it: the path, or ORG/NAME@REVISION:FILE


def is_hub_id(source) -> bool:
    text = str(source)
    return (not Path(text).exists() and HUB_ID.fullmatch(text) is not None
            and Path(text).suffix.lower() not in TABLE_SUFFIXES)


def resolve(sources, revision: str | None = None, config: str | None = None) -> list[UpstreamFile]:
    """Local files stay as they are; Hub ids become their downloaded data files, in order."""
    hub = [s for s in sources if not isinstance(s, UpstreamFile) and is_hub_id(s)]
    if (revision or config) and not hub:
        raise MijaError("--revision/--config: they apply to a Hub dataset id (ORG/NAME) given to "
                        "--from-upstream, but every source is a local file; drop them")
    out: list[UpstreamFile] = []
    for source in sources:
        if isinstance(source, UpstreamFile):
            out.append(source)
        elif is_hub_id(source):
            out += hub_files(str(source), revision, config)
        else:
            out.append(UpstreamFile(Path(source), str(source)))
    return out


def _fail(repo: str, revision: str, what: str) -> MijaError:
    return MijaError(f"--from-upstream {repo}@{revision}: {what}")


def hub_files(repo: str, revision: str | None, config: str | None) -> list[UpstreamFile]:
    """The data files of ``repo`` (a Hub dataset) for ``config`` at ``revision``, downloaded."""
    if not revision:
        raise MijaError(f"--from-upstream {repo}: pass --revision (a commit id, tag or branch) so "
                        "the import can be repeated exactly")
    names = _data_files(repo, revision, config)
    if not names:
        raise _fail(repo, revision, f"no data files for config {config or '(default)'}; "
                    "check --config")
    bad = [n for n in names if Path(n).suffix.lower() not in TABLE_SUFFIXES]
    if bad:
        raise _fail(repo, revision, f"data file {bad[0]!r} is not .parquet, .csv or .jsonl; "
                    "convert the release or pick another --config")
    return [UpstreamFile(_download(repo, revision, n), f"{repo}@{revision}:{n}") for n in names]


def _data_files(repo: str, revision: str, config: str | None) -> list[str]:
    """Paths in the repo of the config's data files (every split), as ``datasets`` resolves them."""
    import datasets
    from huggingface_hub import HfFileSystem
    try:
        builder = datasets.load_dataset_builder(repo, config, revision=revision)
    except ValueError as exc:  # a missing or unknown config: name the ones there are
        raise _fail(repo, revision, _config_problem(repo, revision, config, exc)) from None
    except Exception as exc:  # noqa: BLE001 - network, auth, missing repo or revision: one line
        raise _fail(repo, revision, _hub_problem(exc)) from None
    fs = HfFileSystem()
    files = [str(f) for split in (builder.config.data_files or {}).values() for f in split]
    return list(dict.fromkeys(fs.resolve_path(f).path_in_repo for f in files))


def _config_problem(repo: str, revision: str, config: str | None, exc: Exception) -> str:
    import datasets
    try:
        names = datasets.get_dataset_config_names(repo, revision=revision)
    except Exception:  # noqa: BLE001 - the first error already says what is wrong
        return f"cannot resolve the dataset's data files ({type(exc).__name__}); check --config"
    if config:
        return f"no config {config!r}; valid configs: {', '.join(names)}"
    return f"the dataset has several configs; pass --config (one of: {', '.join(names)})"


def _hub_problem(exc: Exception) -> str:
    name = type(exc).__name__
    if "RevisionNotFound" in name:
        return "revision not found; check --revision"
    if "NotFound" in name or isinstance(exc, FileNotFoundError):
        return "dataset not found (or not visible with your token); check the id and --revision"
    if "Connect" in name or "Timeout" in name or isinstance(exc, ConnectionError):
        return f"cannot reach the Hub ({name}); check the network or HF_ENDPOINT"
    return f"cannot read the dataset from the Hub ({name}); check the id, --revision and your token"


def _download(repo: str, revision: str, name: str) -> Path:
    from huggingface_hub import hf_hub_download
    try:
        return Path(hf_hub_download(repo, name, repo_type="dataset", revision=revision))
    except Exception as exc:  # noqa: BLE001 - any download failure is one line naming the file
        raise _fail(repo, revision, f"cannot download {name} ({type(exc).__name__}); "
                    "check the network and retry") from None
