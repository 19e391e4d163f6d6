"""A local server that speaks the parts of the Hugging Face Hub HTTP API that `huggingface_hub` uses to push and load
models, so that `push_to_hub` and `from_pretrained("user/repo")` can be tested without the internet.

It keeps repositories in memory as a chain of commits per branch, each commit a full snapshot `{path: bytes}`, and
answers every upload as a "regular" (inline base64) file, so no LFS or Xet endpoint is needed (see
shared/reference/hf-integration.md, section 3). Endpoints served:

- `POST /api/repos/create` (409 when the repo exists, which `exist_ok=True` accepts)
- `POST /api/validate-yaml` (checks that the card's YAML parses, that `base_model` holds repo ids and that
  `model-index` has the shape the Hub requires)
- `GET /api/models/{repo}` and `/api/models/{repo}/revision/{rev}` (`repo_info`: the resolved commit `sha`)
- `GET /api/models/{repo}/tree/{rev}[/{path}]` (`?recursive=true` lists subfolders too)
- `POST /api/models/{repo}/preupload/{rev}`, `/commit/{rev}` (ndjson) and `/branch/{name}`
- `HEAD`/`GET /{repo}/resolve/{rev}/{path}` with `X-Repo-Commit`, `ETag` and `X-Error-Code` on 404

`HubServer.refuse_writes(status)` makes every write answer 401 or 403, as the Hub does for a bad or read-only token.
Every request is appended to `HubServer.log` as `"METHOD /path"`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import yaml
from huggingface_hub.utils import HFValidationError, validate_repo_id


@dataclass
class Repo:
    """One repository: commits as full snapshots, branches pointing at commit shas."""

    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)

    def resolve(self, revision: str) -> str | None:
        """The commit sha of a branch name or full commit sha, or None."""
        if revision in self.branches:
            return self.branches[revision]
        return revision if revision in self.commits else None


def git_blob_sha1(content: bytes) -> str:
    """The git object id of a file, which the Hub returns as the `oid` of regular files."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


class HubServer(ThreadingHTTPServer):
    """A `ThreadingHTTPServer` with in-memory repositories. `endpoint` is the URL to use as `HF_ENDPOINT`."""

    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        super().__init__((host, port), _Handler)
        self.repos: dict[str, Repo] = {}
        self.log: list[str] = []
        self.refused: tuple[int, str] | None = None
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.serve_forever, name="hub-server", daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> HubServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def refuse_writes(self, status: int | None) -> None:
        """Answer every write (create, preupload, commit, branch) with `status` (401 or 403); `None` accepts again."""
        messages = {
            401: "Invalid credentials in Authorization header",
            403: "You don't have the rights to create a model under this namespace",
        }
        self.refused = None if status is None else (status, messages.get(status, "Forbidden"))

    def commit(self, repo_id: str, branch: str, files: dict[str, bytes | None], message: str) -> str:
        """Applies `files` (None deletes) on top of `branch` and returns the new commit sha."""
        with self.lock:
            repo = self.repos[repo_id]
            parent = repo.branches.get(branch)
            snapshot = dict(repo.commits[parent]) if parent else {}
            for path, content in files.items():
                if content is None:
                    snapshot = {p: c for p, c in snapshot.items() if p != path and not p.startswith(path + "/")}
                else:
                    snapshot[path] = content
            digest = hashlib.sha1(f"{repo_id}\0{parent}\0{message}\0{len(repo.commits)}".encode())
            for path in sorted(snapshot):
                digest.update(path.encode() + b"\0" + snapshot[path])
            sha = digest.hexdigest()
            repo.commits[sha] = snapshot
            repo.branches[branch] = sha
            return sha


def _validate_card(content: str) -> list[str]:
    """The errors the Hub would report for a README's YAML header (a small subset of its checks)."""
    if not content.startswith("---\n"):
        return []
    try:
        metadata = yaml.safe_load(content[4:].split("\n---", 1)[0]) or {}
    except yaml.YAMLError as error:
        return [f"YAML metadata does not parse: {error}"]
    if not isinstance(metadata, dict):
        return ["YAML metadata must be a mapping"]
    errors = []
    base = metadata.get("base_model")
    for repo_id in [base] if isinstance(base, str) else base or []:
        try:
            validate_repo_id(repo_id)
        except HFValidationError:
            errors.append(f'"base_model" must be a Hub model id, got {repo_id!r}')
    for entry in metadata.get("model-index") or []:
        for result in entry.get("results") or []:
            if not (result.get("task", {}).get("type") and result.get("dataset", {}).get("type")):
                errors.append('"model-index" results need task.type and dataset.type')
            if not all("type" in m and "value" in m for m in result.get("metrics") or [None]):
                errors.append('"model-index" metrics need a type and a value')
    return errors


class _Handler(BaseHTTPRequestHandler):
    server: HubServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002  (silence the default stderr log; see `HubServer.log`)
        pass

    # ------------------------------------------------------------------ responses

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None, head: bool = False):
        self.send_response(status)
        for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _json(self, status: int, payload, headers: dict[str, str] | None = None):
        self._send(status, json.dumps(payload).encode(), headers)

    def _error(self, status: int, code: str | None, message: str, head: bool = False):
        headers = {"X-Error-Message": message, **({"X-Error-Code": code} if code else {})}
        self._send(status, json.dumps({"error": message}).encode(), headers, head=head)

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    # ------------------------------------------------------------------ routing

    def do_HEAD(self):
        self._route("HEAD")

    def do_GET(self):
        self._route("GET")

    def do_POST(self):
        self._route("POST")

    def _route(self, method: str):
        path, query = urlsplit(self.path).path, urlsplit(self.path).query
        self.server.log.append(f"{method} {path}")
        body = self._body() if method == "POST" else b""
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if method == "POST" and path == "/api/validate-yaml":
            errors = _validate_card(json.loads(body).get("content", ""))
            return self._json(400 if errors else 200, {"errors": [{"message": e} for e in errors], "warnings": []})
        if method == "POST" and self.server.refused is not None:
            status, message = self.server.refused
            return self._error(status, None, message)
        if method == "POST" and path == "/api/repos/create":
            return self._create(json.loads(body))
        if parts[:2] == ["api", "models"] and len(parts) >= 4:
            repo_id, action, rest = "/".join(parts[2:4]), (parts[4:5] or [""])[0], parts[5:]
            repo = self.server.repos.get(repo_id)
            if repo is None:
                return self._error(404, "RepoNotFound", f"Repository {repo_id} not found")
            if method == "GET" and action in ("", "revision"):
                return self._info(repo_id, repo, rest[0] if rest else "main")
            if method == "GET" and action == "tree":
                return self._tree(repo, rest[0], "/".join(rest[1:]), "recursive=true" in query.lower())
            if method == "POST" and action == "preupload":
                return self._preupload(repo, rest[0], json.loads(body))
            if method == "POST" and action == "commit":
                return self._commit(repo_id, repo, rest[0], body)
            if method == "POST" and action == "branch":
                return self._branch(repo_id, repo, rest[0], json.loads(body or b"{}"))
        if method in ("GET", "HEAD") and len(parts) >= 5 and parts[2] == "resolve":
            return self._resolve(method, "/".join(parts[:2]), parts[3], "/".join(parts[4:]))
        return self._error(404, None, f"Not found: {method} {path}", head=method == "HEAD")

    # ------------------------------------------------------------------ endpoints

    def _create(self, payload: dict):
        repo_id = f"{payload.get('organization') or 'user'}/{payload['name']}"
        url = f"{self.server.endpoint}/{repo_id}"
        with self.server.lock:
            if repo_id in self.server.repos:
                return self._json(409, {"error": "You already created this model repo", "url": url})
            self.server.repos[repo_id] = Repo()
        self.server.commit(repo_id, "main", {".gitattributes": b"*.safetensors filter=lfs diff=lfs\n"}, "initial")
        return self._json(200, {"url": url, "name": repo_id})

    def _info(self, repo_id: str, repo: Repo, revision: str):
        sha = repo.resolve(revision)
        if sha is None:
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        files = repo.commits[sha]
        siblings = [{"rfilename": path, "size": len(content)} for path, content in sorted(files.items())]
        info = {"id": repo_id, "modelId": repo_id, "sha": sha, "private": False, "siblings": siblings, "tags": []}
        return self._json(200, info)

    def _tree(self, repo: Repo, revision: str, folder: str, recursive: bool):
        sha = repo.resolve(revision)
        if sha is None:
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        prefix = folder.rstrip("/") + "/" if folder else ""
        entries, folders = [], set()
        for path, content in sorted(repo.commits[sha].items()):
            if not path.startswith(prefix):
                continue
            parts = path[len(prefix) :].split("/")
            file = {"type": "file", "path": path, "size": len(content), "oid": git_blob_sha1(content)}
            if recursive:
                folders.update(prefix + "/".join(parts[:depth]) for depth in range(1, len(parts)))
                entries.append(file)
            elif len(parts) > 1:
                folders.add(prefix + parts[0])
            else:
                entries.append(file)
        if folder and not entries and not folders:
            return self._error(404, "EntryNotFound", f"{folder} does not exist on {revision}")
        entries += [{"type": "directory", "path": path, "size": 0, "oid": "0" * 40} for path in sorted(folders)]
        return self._json(200, entries)

    def _preupload(self, repo: Repo, revision: str, payload: dict):
        sha = repo.resolve(revision)
        current = repo.commits[sha] if sha else {}
        files = [
            {
                "path": item["path"],
                "uploadMode": "regular",
                "shouldIgnore": False,
                "oid": git_blob_sha1(current[item["path"]]) if item["path"] in current else None,
            }
            for item in payload.get("files", [])
        ]
        return self._json(200, {"files": files, "commitOid": sha})

    def _commit(self, repo_id: str, repo: Repo, branch: str, body: bytes):
        if branch not in repo.branches:
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {branch}")
        files: dict[str, bytes | None] = {}
        summary = ""
        for line in body.splitlines():
            item = json.loads(line)
            key, value = item["key"], item["value"]
            if key == "header":
                summary = value.get("summary", "")
            elif key == "file":
                files[value["path"]] = base64.b64decode(value["content"])
            elif key in ("deletedFile", "deletedFolder"):
                files[value["path"].rstrip("/")] = None
            else:
                return self._error(400, None, f"Unsupported commit operation {key!r} (only regular files)")
        sha = self.server.commit(repo_id, branch, files, summary)
        url = f"{self.server.endpoint}/{repo_id}/commit/{sha}"
        return self._json(200, {"commitUrl": url, "commitOid": sha, "pullRequestUrl": None})

    def _branch(self, repo_id: str, repo: Repo, branch: str, payload: dict):
        if branch in repo.branches:
            return self._error(409, None, f"Branch {branch} already exists")
        start = repo.resolve(payload.get("startingPoint") or "main")
        if start is None:
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {payload.get('startingPoint')}")
        repo.branches[branch] = start
        return self._json(200, {})

    def _resolve(self, method: str, repo_id: str, revision: str, path: str):
        head = method == "HEAD"
        repo = self.server.repos.get(repo_id)
        if repo is None:
            return self._error(404, "RepoNotFound", f"Repository {repo_id} not found", head=head)
        sha = repo.resolve(revision)
        if sha is None:
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}", head=head)
        content = repo.commits[sha].get(path)
        if content is None:
            headers = {"X-Repo-Commit": sha}
            return self._send(404, b"{}", {**headers, "X-Error-Code": "EntryNotFound"}, head=head)
        headers = {
            "Content-Type": "application/octet-stream",
            "X-Repo-Commit": sha,
            "ETag": f'"{hashlib.sha256(content).hexdigest()}"',
        }
        return self._send(200, content, headers, head=head)


__all__ = ["HubServer", "Repo", "git_blob_sha1"]
