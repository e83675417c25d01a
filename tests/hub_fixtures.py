"""Hub-protocol test servers: an olah mirror for downloads and a recording server for uploads.

* ``olah_server`` runs the real olah mirror (MIT, PyPI) offline over local git repositories laid
  out as ``<type>s/<org>/<name>``, so ``hf_hub_download``, ``load_dataset``, ``evaluate.load`` and
  ``from_pretrained`` talk the Hub protocol to it. olah answers 401 for calls without a revision
  and for missing files, so every load names a revision (the pinned one).
* ``RecordingHub`` answers the Hub's write API (create repo, settings, validate-yaml, preupload,
  commit) and records every request, so tests can assert the exact payloads of a push. Failures
  can be injected per repo. It stores whether a request was authorised, never the token.
* ``user_main`` is the "user" side: run in a fresh interpreter whose ``HF_ENDPOINT`` points at the
  mirror, it loads each repo the way a user would and prints what it got as JSON.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from conftest import http_env, stop

TESTS = Path(__file__).resolve().parent
PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}


# --- the olah mirror ---------------------------------------------------------------------------
def commit_folder(src: Path, dest: Path) -> str:
    """Copy a release folder into a fresh git repo on ``main`` and commit it; return the commit id."""
    import git
    shutil.copytree(src, dest)
    repo = git.Repo.init(dest, initial_branch="main")
    repo.git.add(A=True)
    actor = git.Actor("mijabench tests", "tests@example.invalid")
    return repo.index.commit("release", author=actor, committer=actor).hexsha


def commit_change(repo_dir: Path, rel_path: str, data: bytes, message: str = "later change") -> str:
    """A later commit on ``main`` (what a newer push would do); returns its commit id."""
    import git
    repo = git.Repo(repo_dir)
    (Path(repo_dir) / rel_path).write_bytes(data)
    repo.git.add(A=True)
    actor = git.Actor("mijabench tests", "tests@example.invalid")
    return repo.index.commit(message, author=actor, committer=actor).hexsha


def mirror_release(release_dir: Path, mirrors: Path) -> dict[str, str]:
    """Publish every repo of a release tree to the mirror layout; ``{repo_id: commit}``."""
    manifest = json.loads((Path(release_dir) / "release.json").read_text())
    return {r["repo_id"]: commit_folder(Path(release_dir) / f"{r['repo_type']}s/{r['repo_id']}",
                                        Path(mirrors) / f"{r['repo_type']}s/{r['repo_id']}")
            for r in manifest["repos"]}


@contextlib.contextmanager
def olah_server(mirrors: Path, port: int, workdir: Path):
    """Run olah offline over ``mirrors``; yields its base URL. Logs go to ``workdir/olah.log``."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "olah.toml"
    config.write_text(
        "[basic]\n"
        f'host = "127.0.0.1"\nport = {port}\n'
        f'repos-path = "{workdir / "cache"}"\nmirrors-path = ["{mirrors}"]\n'
        "[accessibility]\noffline = true\n")
    log = workdir / "olah.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "olah.server", "-c", str(config)],
                                cwd=workdir, stdout=out, stderr=subprocess.STDOUT, env=http_env())
    try:
        _wait_for_port(port, proc, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


def _wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 90.0) -> None:
    """Wait until olah accepts connections (its HTML index page errors, so no HTTP probe)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"olah exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise RuntimeError(f"olah did not listen on {port} within {timeout}s:\n{log.read_text()[-2000:]}")


def hub_env(endpoint: str, hf_home: Path, **extra: str) -> dict:
    """Environment of a user process talking to ``endpoint`` with an empty cache and no token."""
    env = {k: v for k, v in http_env().items()
           if k not in ("HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN", "HF_TOKEN_PATH",
                        "HF_HUB_CACHE", "HF_DATASETS_CACHE", "HUGGINGFACE_HUB_CACHE")}
    env.update(HF_ENDPOINT=endpoint, HF_HOME=str(hf_home), HF_HUB_DISABLE_TELEMETRY="1",
               HF_HUB_DISABLE_PROGRESS_BARS="1", OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false",
               **extra)
    return env


def run_user(spec: dict, env: dict, timeout: float = 300) -> dict:
    """Run ``user_main`` in a fresh interpreter (the Hub endpoint is read at import time)."""
    code = f"import sys; sys.path.insert(0, {str(TESTS)!r}); import hub_fixtures; hub_fixtures.user_main()"
    proc = subprocess.run([sys.executable, "-c", code], input=json.dumps(spec), env=env,
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"user-side load failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- what a user loads, reduced to comparable fingerprints ------------------------------------------
def rows_digest(dataset) -> str:
    """Order-sensitive digest of every row of a ``datasets.Dataset``."""
    h = hashlib.sha256()
    for row in dataset.to_list():
        h.update(json.dumps(row, sort_keys=True, ensure_ascii=False).encode())
    return h.hexdigest()


def model_digest(model) -> str:
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().contiguous().cpu().numpy().tobytes())
    return h.hexdigest()


def tree_digest(folder: Path) -> dict[str, str]:
    folder = Path(folder)
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and ".cache" not in p.parts}


def user_main() -> None:
    """Read a spec on stdin, load each entry as a user would, print ``{name: result}`` as JSON."""
    spec = json.load(sys.stdin)
    results = {}
    for name, item in spec.items():
        results[name] = USER_LOADS[item["kind"]](item)
    print(json.dumps(results, sort_keys=True))


def _load_dataset(item: dict) -> dict:
    from datasets import load_dataset
    ds = load_dataset(item["repo_id"], item["config"], revision=item.get("revision"))
    return {split: {"rows": d.num_rows, "digest": rows_digest(d)} for split, d in ds.items()}


def _load_pinned_mijabench(item: dict) -> dict:
    from mijabench.hub import loaders as hub_loaders
    ds = hub_loaders.load_mijabench(item["config"], repo=item["repo_id"])
    return {split: {"rows": d.num_rows, "digest": rows_digest(d)} for split, d in ds.items()}


def _load_model(item: dict) -> dict:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    model = AutoModelForCausalLM.from_pretrained(item["repo_id"], revision=item["revision"])
    tokenizer = AutoTokenizer.from_pretrained(item["repo_id"], revision=item["revision"])
    return _model_result(model, tokenizer, item["text"])


def _load_pinned_model(item: dict) -> dict:
    from mijabench.hub import loaders as hub_loaders
    model, tokenizer = hub_loaders.load_aligned_model(repo=item["repo_id"])
    return _model_result(model, tokenizer, item["text"])


def _model_result(model, tokenizer, text: str) -> dict:
    import torch
    ids = tokenizer(text, return_tensors="pt").input_ids
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=4, do_sample=False)
    return {"digest": model_digest(model), "tokens": out[0].tolist(),
            "chat_template": bool(tokenizer.chat_template)}


def _load_metric(item: dict) -> dict:
    import evaluate
    metric = evaluate.load(item["repo_id"], revision=item["revision"])
    return {"result": metric.compute(**item["inputs"])}


def _load_pinned_metric(item: dict) -> dict:
    from mijabench.hub import loaders as hub_loaders
    return {"result": hub_loaders.load_metric(repo=item["repo_id"]).compute(**item["inputs"])}


def _snapshot(item: dict) -> dict:
    from huggingface_hub import snapshot_download
    path = snapshot_download(item["repo_id"], repo_type=item["repo_type"], revision=item["revision"])
    return {"files": tree_digest(Path(path))}


USER_LOADS = {"dataset": _load_dataset, "model": _load_model, "metric": _load_metric,
              "snapshot": _snapshot, "pinned_mijabench": _load_pinned_mijabench,
              "pinned_model": _load_pinned_model, "pinned_metric": _load_pinned_metric}


# --- the recording server ------------------------------------------------------------------------
@dataclass
class Recorded:
    method: str
    path: str
    authorized: bool
    body: object = None            # parsed JSON, or the list of NDJSON items of a commit


@dataclass
class RecordingHub:
    """A local stand-in for the Hub's write API that records requests (see module docstring)."""
    token: str
    requests: list = field(default_factory=list)
    created: dict = field(default_factory=dict)        # repo_id -> create payload
    commits: dict = field(default_factory=dict)        # repo_id -> list of {summary, files}
    fail_commit: dict = field(default_factory=dict)    # repo_id -> HTTP status to answer
    card_errors: list = field(default_factory=list)    # messages validate-yaml answers with (400)
    url: str = ""

    def calls(self, kind: str) -> list[Recorded]:
        pattern = {"create": r"/api/repos/create$", "settings": r"/settings$", "validate": r"/api/validate-yaml$",
                   "preupload": r"/preupload/", "commit": r"/commit/"}[kind]
        return [r for r in self.requests if re.search(pattern, r.path)]

    def answer(self, method: str, path: str, headers, raw: bytes) -> tuple[int, dict]:
        authorized = headers.get("authorization") == f"Bearer {self.token}"
        body = _parse_body(headers.get("content-type", ""), raw)
        self.requests.append(Recorded(method, path.split("?")[0], authorized, body))
        if not authorized and not path.startswith("/api/validate-yaml"):
            return 401, {"error": "Invalid credentials in Authorization header"}
        return self._route(method, path.split("?")[0], body)

    def _route(self, method: str, path: str, body) -> tuple[int, dict]:
        if method == "POST" and path == "/api/repos/create":
            repo_id = f"{body['organization']}/{body['name']}"
            url = f"{self.url}/{PREFIX[body.get('type') or 'model']}{repo_id}"
            if repo_id in self.created:  # the Hub answers 409 with the repo's url
                return 409, {"error": "You already created this repo", "url": url}
            self.created[repo_id] = body
            return 200, {"url": url, "name": repo_id}
        if method == "POST" and path == "/api/validate-yaml":
            if self.card_errors:
                return 400, {"errors": [{"message": m} for m in self.card_errors], "warnings": []}
            return 200, {"errors": [], "warnings": []}
        match = re.fullmatch(r"/api/(models|datasets|spaces)/([^/]+/[^/]+)/(settings|preupload|commit)(/.*)?", path)
        if not match:
            return 404, {"error": "not part of the recorded write API"}
        repo_id, action = match.group(2), match.group(3)
        if action == "settings":
            return 200, {}
        if action == "preupload":
            return 200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                   for f in body["files"]]}
        if repo_id in self.fail_commit:
            return self.fail_commit[repo_id], {"error": "injected failure"}
        return self._commit(repo_id, match.group(1), body)

    def _commit(self, repo_id: str, type_prefix: str, items: list) -> tuple[int, dict]:
        files = {i["value"]["path"]: base64.b64decode(i["value"]["content"])
                 for i in items if i["key"] == "file"}
        summary = next(i["value"]["summary"] for i in items if i["key"] == "header")
        self.commits.setdefault(repo_id, []).append({"summary": summary, "files": files})
        oid = hashlib.sha1(json.dumps(items, sort_keys=True).encode()).hexdigest()
        prefix = "" if type_prefix == "models" else f"{type_prefix}/"
        return 200, {"commitUrl": f"{self.url}/{prefix}{repo_id}/commit/{oid}", "commitOid": oid,
                     "pullRequestUrl": None}


def _parse_body(content_type: str, raw: bytes):
    if not raw:
        return None
    if "ndjson" in content_type:
        return [json.loads(line) for line in raw.splitlines() if line.strip()]
    try:
        return json.loads(raw)
    except ValueError:
        return raw


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _serve(self):
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, payload = self.server.hub.answer(self.command, self.path, headers, raw)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, *args):  # keep pytest output clean
        pass


@contextlib.contextmanager
def recording_hub(token: str):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    hub = RecordingHub(token=token, url=f"http://127.0.0.1:{server.server_address[1]}")
    server.hub = hub
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()
