"""Build, validate and publish the Hub release: one folder per Hub repo plus a manifest.

Layout of a release tree (the same ``<type>s/<org>/<name>`` layout the Hub's URLs use)::

    OUT/release.json                      the manifest: per repo id, type, privacy, gating,
    OUT/datasets/<org>/mijabench/...      file hashes, the revision once pushed, the source commit
    OUT/spaces/<org>/selective_safety/...
    OUT/models/<org>/<model>/...
    OUT/pinned_revisions.yaml             after a push: each pushed repo's commit, for the loaders

The tree is built in a sibling temp folder, every card is validated, and only then is it swapped
in, so a release tree is always complete. ``push_release`` re-checks every hash before uploading
anything, pushes one commit per repo (``hub_publish.push_folder``), records each repo's commit in
the manifest as soon as it lands, and skips repos already pushed at the same content, so a failed
push is resumed by running it again. Pushed revisions are then written to
``OUT/pinned_revisions.yaml``, next to the manifest (never into the installed package); the
loaders read it through ``MIJABENCH_PINNED_REVISIONS`` (see ``mijabench.hub.loaders``).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from mijabench import __version__, atomic
from mijabench.errors import MijaError
from mijabench.hub import cards
from mijabench.hub import folders as hubdata
from mijabench.hub import loaders as hub_loaders
from mijabench.resources import CHECKOUT, metric_path, space_path

MANIFEST = "release.json"
PINS_FILE = hub_loaders.PINS_FILE  # OUT/pinned_revisions.yaml, written by push_release
FORMAT = 1
GATED = "manual"  # hateful by design: every access request to a dataset is reviewed by a person


@dataclass
class RepoEntry:
    """One Hub repo of the release (a row of the manifest)."""
    key: str
    repo_id: str
    repo_type: str
    private: bool
    gated: str | None = None
    space_sdk: str | None = None
    files: dict = field(default_factory=dict)
    tree_sha256: str = ""
    revision: str | None = None          # commit id on the Hub once pushed
    pushed_tree_sha256: str | None = None
    push_error: str | None = None

    @property
    def folder(self) -> str:
        return f"{self.repo_type}s/{self.repo_id}"


@dataclass
class Sources:
    """Where each deliverable comes from. ``None`` leaves that repo out (MiJaBench is built)."""
    mijabench: Path | None = None   # a built folder; None = build the counterfactual config here
    per_group: int | None = None
    seed: int = 0
    metric: Path | None = field(default_factory=metric_path)
    space: Path | None = field(default_factory=space_path)
    model: Path | None = None
    mijabench_align: Path | None = None
    securebreak: Path | None = None
    include: tuple[str, ...] | None = None  # a subset of hub_loaders.REPOS keys; None = all available


# --- building -----------------------------------------------------------------------------------
def plan_repos(org: str, sources: Sources, private: bool = True) -> list[RepoEntry]:
    """The repos this release holds: the ``include`` subset, else every deliverable whose source
    exists (MiJaBench is always buildable)."""
    from mijabench.release import cards as release_cards
    entries = []
    for key in sources.include or ():
        hub_loaders.repo_id(key, org)  # unknown key -> one-line error listing the valid ones
    for key, (repo_type, _name) in hub_loaders.REPOS.items():
        if sources.include is not None and key not in sources.include:
            continue
        if not release_cards.available(key, sources):
            if sources.include is not None:
                raise MijaError(f"release: {key} was asked for but its source folder is missing or "
                                f"empty; pass --{key} DIR")
            continue
        entries.append(RepoEntry(
            key=key, repo_id=hub_loaders.repo_id(key, org), repo_type=repo_type, private=private,
            gated=GATED if repo_type == "dataset" else None,
            space_sdk="gradio" if repo_type == "space" else None))
    return entries


def build_release(out: Path, org: str = hub_loaders.DEFAULT_ORG, sources: Sources | None = None,
                  private: bool = True, progress: bool = True) -> dict:
    """Build and validate every repo folder, then swap the finished tree into ``out``."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    from mijabench.release import cards as release_cards
    sources = sources or Sources()
    try:
        validate_repo_id(f"{org}/x")
    except HFValidationError:
        raise MijaError(f"--org {org!r}: not a valid Hub namespace (letters, digits, '-', '_', "
                        "'.')") from None
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        # the finished tree replaces OUT; never let that delete an unrelated folder
        raise MijaError(f"--out {out}: exists and is not a release tree; pass a new or empty folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    entries = plan_repos(org, sources, private)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for entry in tqdm(entries, desc="build release", unit="repo", disable=not progress):
            release_cards.build(entry, tmp / entry.folder, sources, entries)
            release_cards.validate_folder(entry, tmp / entry.folder)
            entry.files = folder_hashes(tmp / entry.folder)
            entry.tree_sha256 = tree_hash(entry.files)
        _carry_over_pushes(entries, out)
        if (out / PINS_FILE).is_file():  # a rebuild keeps the pins of the pushes made before it
            shutil.copyfile(out / PINS_FILE, tmp / PINS_FILE)
        manifest = _manifest(org, entries)
        atomic.write_text(tmp / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        hubdata.swap_folder(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def folder_hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hubdata.sha256(p)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def tree_hash(files: dict[str, str]) -> str:
    return hashlib.sha256("".join(f"{k}\0{v}\n" for k, v in sorted(files.items())).encode()).hexdigest()


def source_commit(root: Path = CHECKOUT) -> str:
    """The checkout's HEAD commit, read from .git without running git; "unknown" outside one."""
    git = root / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head
        ref = head[5:]
        if (git / ref).is_file():
            return (git / ref).read_text().strip()
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0]
    except OSError:
        pass
    return "unknown"


def _manifest(org: str, entries: list[RepoEntry]) -> dict:
    return {"format": FORMAT, "org": org, "mijabench_version": __version__,
            "source_commit": source_commit(), "repos": [asdict(e) for e in entries]}


def _carry_over_pushes(entries: list[RepoEntry], out: Path) -> None:
    """A rebuild with identical content keeps the recorded push, so a rerun does not re-upload."""
    if not (out / MANIFEST).is_file():
        return
    old = {r["repo_id"]: r for r in read_manifest(out)["repos"]}
    for entry in entries:
        prev = old.get(entry.repo_id)
        if prev and prev.get("revision") and prev.get("pushed_tree_sha256") == entry.tree_sha256:
            entry.revision, entry.pushed_tree_sha256 = prev["revision"], entry.tree_sha256


# --- reading and checking a built tree ------------------------------------------------------------
def read_manifest(out: Path) -> dict:
    path = Path(out) / MANIFEST
    if not path.is_file():
        raise MijaError(f"{path}: no release manifest; build the release first (mijabench release --out DIR)")
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except json.JSONDecodeError:
        raise MijaError(f"{path}: not valid JSON; rebuild the release") from None
    if manifest.get("format") != FORMAT or not isinstance(manifest.get("repos"), list):
        raise MijaError(f"{path}: unknown manifest format; rebuild the release with this mijabench")
    return manifest


def entries_of(manifest: dict) -> list[RepoEntry]:
    return [RepoEntry(**r) for r in manifest["repos"]]


def verify_tree(out: Path, manifest: dict) -> None:
    """Every repo folder holds exactly the manifest's files with the manifest's hashes."""
    for entry in entries_of(manifest):
        folder = Path(out) / entry.folder
        if not folder.is_dir():
            raise MijaError(f"{folder}: missing from the release tree; rebuild the release")
        actual = folder_hashes(folder)
        changed = sorted(set(actual) ^ set(entry.files)) or sorted(
            k for k in actual if actual[k] != entry.files[k])
        if changed:
            raise MijaError(f"{folder}/{changed[0]}: differs from {MANIFEST} ({len(changed)} file(s)); "
                            "the tree changed after it was built; rebuild the release")


def plan_lines(manifest: dict) -> list[str]:
    """Human-readable push plan: one line per repo (what --dry-run prints)."""
    lines = [f"release of {manifest['org']} (mijabench {manifest['mijabench_version']}, "
             f"source {manifest['source_commit'][:12]})"]
    for entry in entries_of(manifest):
        state = (f"pushed at {entry.revision}" if _is_pushed(entry)
                 else "to push" + (f" (last error: {entry.push_error})" if entry.push_error else ""))
        flags = ["private" if entry.private else "public"] + ([f"gated={entry.gated}"] if entry.gated else [])
        lines.append(f"  {entry.repo_type:<7} {entry.repo_id:<48} {len(entry.files):>4} files  "
                     f"{', '.join(flags):<22} {state}")
    return lines


def _is_pushed(entry: RepoEntry) -> bool:
    return bool(entry.revision) and entry.pushed_tree_sha256 == entry.tree_sha256


# --- pushing ---------------------------------------------------------------------------------------
@dataclass
class PushResult:
    repo_id: str
    status: str          # pushed | skipped | failed
    revision: str | None = None
    error: str | None = None


def push_release(out: Path, token: str | None = None, endpoint: str | None = None,
                 pins: Path | None = None, progress: bool = True) -> list[PushResult]:
    """Upload every repo not yet pushed at its current content; one commit per repo, then write
    the pushed revisions to ``pins`` (default ``pins_file(out)``, next to the manifest).

    The whole tree is checked against the manifest, a token is required and every card passes
    the Hub's validation before the first upload. Each repo's outcome is written to the manifest
    as soon as it is known, so a rerun resumes with the repos that failed or were never reached.
    """
    from mijabench.hub import publish as hub_publish
    out = Path(out)
    manifest = read_manifest(out)
    verify_tree(out, manifest)
    token = hub_publish.resolve_token(token, "release --push")
    entries = entries_of(manifest)
    for entry in entries:  # the Hub's own card check for every repo before the first upload
        if not _is_pushed(entry):
            readme = out / entry.folder / "README.md"
            cards.validate_card_on_hub(readme.read_text("utf-8"), entry.repo_type, where=str(readme),
                                       endpoint=endpoint, token=token)
    results = []
    for entry in tqdm(entries, desc="push release", unit="repo", disable=not progress):
        if _is_pushed(entry):
            results.append(PushResult(entry.repo_id, "skipped", entry.revision))
            continue
        results.append(_push_one(out, entry, token, endpoint, manifest))
        manifest["repos"] = [asdict(e) for e in entries]
        atomic.write_text(out / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    write_pins(manifest, pins or pins_file(out))
    return results


def _push_one(out: Path, entry: RepoEntry, token: str, endpoint: str | None, manifest: dict) -> PushResult:
    from mijabench.hub import publish as hub_publish
    message = (f"mijabench {manifest['mijabench_version']} release "
               f"(source {manifest['source_commit'][:12]})")
    try:
        url = hub_publish.push_folder(
            out / entry.folder, entry.repo_id, repo_type=entry.repo_type, private=entry.private,
            token=token, commit_message=message, endpoint=endpoint, space_sdk=entry.space_sdk,
            gated=entry.gated)
    except Exception as exc:  # one repo failing must not hide the others; the rerun resumes it
        entry.push_error = _one_line(exc, entry.repo_id, token)
        return PushResult(entry.repo_id, "failed", error=entry.push_error)
    entry.revision = url.rstrip("/").rsplit("/", 1)[-1]
    entry.pushed_tree_sha256, entry.push_error = entry.tree_sha256, None
    return PushResult(entry.repo_id, "pushed", entry.revision)


def _one_line(exc: Exception, repo_id: str, token: str) -> str:
    if isinstance(exc, MijaError):
        text = str(exc)
    else:
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        text = f"push {repo_id}: {type(exc).__name__}" + (f": {first}" if first else "")
    return text.replace(token, "***") if len(token) >= 8 else text


def pins_file(out: Path) -> Path:
    """Where a release's pins go: ``OUT/pinned_revisions.yaml``, next to ``release.json``."""
    return Path(out) / PINS_FILE


def write_pins(manifest: dict, path: Path) -> Path:
    """Merge the manifest's pushed revisions into the pin file ``path`` (entries of other repos
    stay). Callers pass ``pins_file(out)`` or a path the user chose; nothing defaults to the
    package's shipped copy (a maintainer refreshes that one in a checkout, before a wheel build)."""
    path = Path(path)
    repos = dict(hub_loaders.load_pins(path))
    for entry in entries_of(manifest):
        if _is_pushed(entry):
            repos[entry.repo_id] = {"type": entry.repo_type, "revision": entry.revision}
    atomic.write_text(path, hub_loaders.pins_text(repos))
    return path


def record_revisions(out: Path, revisions: dict[str, str]) -> dict:
    """Record commits made outside ``push_release`` (e.g. a mirror) in the manifest."""
    manifest = read_manifest(out)
    entries = entries_of(manifest)
    for entry in entries:
        if entry.repo_id in revisions:
            entry.revision, entry.pushed_tree_sha256 = revisions[entry.repo_id], entry.tree_sha256
            entry.push_error = None
    manifest["repos"] = [asdict(e) for e in entries]
    atomic.write_text(Path(out) / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest
