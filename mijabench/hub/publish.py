"""Publish a finished local folder to the Hugging Face Hub: one function, reused by every release.

:func:`push_folder` is the only place that talks to the Hub for uploads. Its contract:

1. the folder is complete and validated *before* it is called (callers build it first);
2. the token is resolved first (explicit argument, then ``HF_TOKEN``, then the stored login) and a
   missing token is a :class:`MijaError` raised before any request, so nothing is half-created;
3. then ``HfApi.create_repo(repo_id, repo_type, private, exist_ok=True[, space_sdk])``, when
   ``gated`` is set ``HfApi.update_repo_settings(repo_id, gated=...)`` (before any file lands, so
   gated data is never briefly public), and ``HfApi.upload_folder(...)`` (one commit holding
   every file), against ``endpoint`` (default: ``HF_ENDPOINT`` or huggingface.co), so a recording
   server can check the payloads.

Repos are private by default. ``exist_ok=True`` never changes the visibility of an existing repo.
The token is never logged or put in an error message.
"""

from __future__ import annotations

from pathlib import Path

from mijabench.errors import MijaError

# Temp files from atomic writes (".name.XXXX.tmp") and hidden folders never go to the Hub.
IGNORE_PATTERNS = [".*", "**/.*"]


def resolve_token(token: str | None = None, what: str = "push") -> str:
    """The token to push with: explicit arg, else HF_TOKEN / the stored ``hf auth login`` token."""
    from huggingface_hub import get_token
    token = token or get_token()
    if not token:
        # only publish-model has a --token option; every command reads HF_TOKEN and the login
        hint = "pass --token, " if what == "publish-model" else ""
        raise MijaError(f"{what}: no Hugging Face token found; {hint}set HF_TOKEN or run "
                        "`hf auth login` (nothing was created or uploaded)")
    return token


def check_repo_id(repo_id: str | None, what: str = "push") -> str:
    from huggingface_hub.utils import HFValidationError, validate_repo_id
    if not repo_id or "/" not in repo_id:
        raise MijaError(f"{what}: --repo-id must be 'owner/name' (got {repo_id!r})")
    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        raise MijaError(f"{what}: {repo_id!r} is not a valid Hub repo id; use 'owner/name' with "
                        "letters, digits, '-', '_' or '.'") from None
    return repo_id


def push_folder(folder: Path, repo_id: str, repo_type: str = "model", private: bool = True,
                token: str | None = None, commit_message: str | None = None,
                endpoint: str | None = None, space_sdk: str | None = None,
                gated: str | None = None) -> str:
    """Create (or reuse) ``repo_id`` and upload every file of ``folder`` in one commit.

    ``space_sdk`` is required for Space repos; ``gated`` ("auto"/"manual") turns on access requests
    before the upload. Returns the commit URL. Raises :class:`MijaError` (naming the repo, never the token) when the
    folder is missing or empty, the repo id is malformed, no token is found, or the Hub refuses.
    """
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    folder = Path(folder)
    if not folder.is_dir() or not any(p.is_file() for p in folder.rglob("*")):
        raise MijaError(f"{folder}: nothing to push (not a folder or empty); build it first")
    check_repo_id(repo_id)
    token = resolve_token(token)
    api = HfApi(endpoint=endpoint, token=token)
    try:
        api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True,
                        space_sdk=space_sdk)
        if gated:  # gate before the first file lands, so the data is never readable without the form
            api.update_repo_settings(repo_id, repo_type=repo_type, gated=gated)
        commit = api.upload_folder(
            folder_path=str(folder), repo_id=repo_id, repo_type=repo_type,
            commit_message=commit_message or f"Upload {folder.name} with mijabench",
            ignore_patterns=IGNORE_PATTERNS)
    except HfHubHTTPError as exc:
        status = getattr(exc.response, "status_code", "?")
        raise MijaError(f"push {repo_id}: the Hub refused the request (HTTP {status}); check that "
                        "the token has write access to this namespace") from None
    return commit.commit_url
