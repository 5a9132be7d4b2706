"""A small, real HTTP server speaking enough of the Hugging Face Hub protocol for offline tests.

The real ``huggingface_hub`` client (and timm's hub helpers on top of it) can create repos, commit
files (``upload_folder`` / ``upload_file`` / ``create_commit`` / ``delete_file``), create branches and
tags, list files and download by branch, tag or commit sha. Storage is in memory: each commit is a
full snapshot ``{path: bytes}``.

Every file is a regular git blob, never LFS/Xet: ``preupload`` always answers ``uploadMode: "regular"``,
so contents travel base64-encoded inside the NDJSON commit payload, and ``/resolve/`` serves bytes
directly (no redirect to a CDN, no ``X-Linked-Etag``). The ETag is the git blob sha1, as the Hub
serves for non-LFS files. Unknown routes answer 501 and are logged and listed in ``unhandled``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

logger = logging.getLogger(__name__)

DEFAULT_USER = "local-user"  # namespace for create_repo("name") without an organization
_KINDS = {"models": "model", "datasets": "dataset", "spaces": "space"}
_API = r"/api/(?P<kind>models|datasets|spaces)/(?P<repo>[^/]+/[^/]+)"
_RESOLVE = r"/(?:(?P<kind>datasets|spaces)/)?(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)"


def git_blob_sha(data: bytes) -> str:
    """Git object id of a blob: the Hub's ETag and ``oid`` for regular files."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class HubError(Exception):
    """An error response; ``code`` goes into ``X-Error-Code``, which the client maps to its exceptions."""

    def __init__(self, status: int, message: str, code: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers or {}


@dataclass
class Commit:
    oid: str
    parent: str | None
    title: str
    message: str
    files: dict[str, bytes]
    date: str = field(default_factory=_now)


@dataclass
class Repo:
    repo_id: str
    repo_type: str
    private: bool
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    created_at: str = field(default_factory=_now)

    def resolve(self, revision: str) -> Commit:
        """Commit for a branch, tag, full sha or unique sha prefix (>= 7 chars)."""
        name = re.sub(r"^refs/(heads|tags)/", "", revision)
        oid = self.branches.get(name) or self.tags.get(name)
        if oid is None and len(revision) >= 7:
            matches = [o for o in self.commits if o.startswith(revision.lower())]
            oid = matches[0] if len(matches) == 1 else None
        if oid is None:
            raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return self.commits[oid]


@dataclass
class Request:
    args: dict[str, str]  # URL-decoded route parameters
    query: dict[str, str]
    body: bytes
    authorization: str | None

    def json(self) -> Any:
        return json.loads(self.body or b"{}")


Response = tuple[int, Any, dict[str, str]]  # status, JSON-able object or raw bytes, extra headers


class LocalHubServer:
    """In-memory Hub on ``127.0.0.1`` (free port); a context manager, or call ``start()``/``stop()``.

    ``requests`` records ``(method, path, Authorization header)`` of every request. With
    ``require_token=True``, write routes answer 401 unless sent ``Authorization: Bearer <token>``.
    Private repos are readable only with that token (404 ``RepoNotFound`` otherwise, like the Hub).
    """

    def __init__(self, token: str = "hf_local_test_token", require_token: bool = False) -> None:
        self.token, self.require_token = token, require_token
        self.repos: dict[tuple[str, str], Repo] = {}  # (repo_type, repo_id) -> Repo
        self.requests: list[tuple[str, str, str | None]] = []
        self.unhandled: list[str] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        routes: list[tuple[str, str, Callable[[Request], Response], bool]] = [  # method, path, handler, is_write
            ("POST", r"/api/repos/create", self._create_repo, True),
            ("DELETE", r"/api/repos/delete", self._delete_repo, True),
            ("POST", r"/api/validate-yaml", self._validate_yaml, False),
            ("GET", r"/api/whoami-v2", self._whoami, False),
            ("GET", _API + r"(?:/revision/(?P<rev>[^/]+))?", self._repo_info, False),
            ("GET", _API + r"/tree/(?P<rev>[^/]+)(?:/(?P<path>.+))?", self._tree, False),
            ("GET", _API + r"/refs", self._refs, False),
            ("GET", _API + r"/commits/(?P<rev>[^/]+)", self._list_commits, False),
            ("POST", _API + r"/preupload/(?P<rev>[^/]+)", self._preupload, True),
            ("POST", _API + r"/commit/(?P<rev>[^/]+)", self._commit, True),
            ("POST", _API + r"/branch/(?P<branch>[^/]+)", self._create_branch, True),
            ("POST", _API + r"/tag/(?P<rev>[^/]+)", self._create_tag, True),
            ("GET", _RESOLVE, self._resolve, False),  # also serves HEAD
        ]
        self._routes = [(method, re.compile(path), handler, write) for method, path, handler, write in routes]

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> LocalHubServer:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.hub = self  # type: ignore[attr-defined]
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="local-hub", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> LocalHubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def files(self, repo_id: str, revision: str = "main", repo_type: str = "model") -> dict[str, bytes]:
        """Snapshot of a repo at ``revision``, for assertions in tests."""
        return dict(self.repos[(repo_type, repo_id)].resolve(revision).files)

    # -- dispatch ----------------------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, body: bytes, authorization: str | None) -> Response:
        """Route one request; raises ``HubError`` for error responses."""
        self.requests.append((method, raw_path, authorization))
        url = urlsplit(raw_path)
        for route_method, pattern, handler, is_write in self._routes:
            match = pattern.fullmatch(url.path)
            if match and (method == route_method or (method, route_method) == ("HEAD", "GET")):
                if is_write and self.require_token and authorization != f"Bearer {self.token}":
                    # The client turns a 401 with exactly this message into a plain HfHubHTTPError.
                    raise HubError(401, "Invalid credentials in Authorization header")
                # Decode after splitting: revisions come quoted with safe="" (e.g. "refs%2Fpr%2F1").
                args = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                with self._lock:
                    return handler(Request(args, query, body, authorization))
        logger.warning("LocalHubServer: unhandled request %s %s", method, raw_path)
        self.unhandled.append(f"{method} {raw_path}")
        raise HubError(501, f"LocalHubServer does not implement {method} {url.path}")

    def _repo(self, req: Request) -> Repo:
        repo = self.repos.get((_KINDS[req.args.get("kind", "models")], req.args["repo"]))
        if repo is None or (repo.private and req.authorization != f"Bearer {self.token}"):
            raise HubError(404, "Repository not found", "RepoNotFound")
        return repo

    def _repo_url(self, repo: Repo) -> str:
        prefix = "" if repo.repo_type == "model" else f"{repo.repo_type}s/"
        return f"{self.url}/{prefix}{repo.repo_id}"

    @staticmethod
    def _new_commit(repo: Repo, branch: str, title: str, message: str, files: dict[str, bytes]) -> Commit:
        parent = repo.branches.get(branch)
        tree = sorted((path, git_blob_sha(data)) for path, data in files.items())
        seed = json.dumps([repo.repo_id, parent, title, len(repo.commits), tree]).encode()
        commit = Commit(hashlib.sha1(seed).hexdigest(), parent, title, message, files)
        repo.commits[commit.oid] = commit
        repo.branches[branch] = commit.oid
        return commit

    # -- repos and metadata ------------------------------------------------------------------------

    def _create_repo(self, req: Request) -> Response:
        payload = req.json()
        key = (payload.get("type") or "model", f"{payload.get('organization') or DEFAULT_USER}/{payload['name']}")
        if key in self.repos:  # create_repo(exist_ok=True) still reads "url" from the 409 body
            return 409, {"error": "You already created this repo", "url": self._repo_url(self.repos[key])}, {}
        private = payload.get("visibility") == "private" or bool(payload.get("private"))
        repo = self.repos[key] = Repo(key[1], key[0], private)
        # Like the Hub, start with an initial commit so that "main" exists and has a sha.
        self._new_commit(repo, "main", "initial commit", "", {".gitattributes": b"# created by LocalHubServer\n"})
        return 200, {"url": self._repo_url(repo), "name": repo.repo_id}, {}

    def _delete_repo(self, req: Request) -> Response:
        payload = req.json()
        key = (payload.get("type") or "model", f"{payload.get('organization') or DEFAULT_USER}/{payload['name']}")
        if self.repos.pop(key, None) is None:
            raise HubError(404, "Repository not found", "RepoNotFound")
        return 200, {}, {}

    def _validate_yaml(self, req: Request) -> Response:
        content = req.json().get("content", "")
        if content.startswith("---") and not re.search(r"^---\s*$", content[3:], re.MULTILINE):
            return 400, {"errors": [{"message": "unterminated YAML front matter"}], "warnings": []}, {}
        return 200, {"errors": [], "warnings": []}, {}

    def _whoami(self, req: Request) -> Response:
        return 200, {"type": "user", "name": DEFAULT_USER, "orgs": [], "auth": {"accessToken": {"role": "write"}}}, {}

    def _repo_info(self, req: Request) -> Response:
        repo = self._repo(req)
        commit = repo.resolve(req.args.get("rev", "main"))
        files = sorted(commit.files.items())
        siblings = [{"rfilename": path, "size": len(data), "blobId": git_blob_sha(data)} for path, data in files]
        return (
            200,
            {
                "id": repo.repo_id,
                "modelId": repo.repo_id,
                "author": repo.repo_id.split("/")[0],
                "sha": commit.oid,
                "private": repo.private,
                "disabled": False,
                "gated": False,
                "downloads": 0,
                "likes": 0,
                "tags": [],
                "createdAt": repo.created_at,
                "lastModified": commit.date,
                "siblings": siblings,
            },
            {},
        )

    def _tree(self, req: Request) -> Response:
        commit = self._repo(req).resolve(req.args["rev"])
        base = req.args.get("path", "").strip("/")
        prefix = f"{base}/" if base else ""
        recursive = req.query.get("recursive", "").lower() in ("1", "true")
        entries: dict[str, dict] = {}
        for path, data in sorted(commit.files.items()):
            if not path.startswith(prefix):
                continue
            parts = path[len(prefix) :].split("/")
            # A recursive listing has every ancestor folder of a file, a flat one only the first level.
            for depth in range(1, len(parts) if recursive else min(len(parts), 2)):
                folder = prefix + "/".join(parts[:depth])
                entries.setdefault(folder, {"type": "directory", "path": folder, "oid": git_blob_sha(folder.encode())})
            if recursive or len(parts) == 1:
                entries[path] = {"type": "file", "path": path, "size": len(data), "oid": git_blob_sha(data)}
        if base and not entries:
            raise HubError(404, f"{base} does not exist on {req.args['rev']}", "EntryNotFound")
        return 200, list(entries.values()), {}

    def _refs(self, req: Request) -> Response:
        repo = self._repo(req)
        branches = [{"name": n, "ref": f"refs/heads/{n}", "targetCommit": o} for n, o in repo.branches.items()]
        tags = [{"name": n, "ref": f"refs/tags/{n}", "targetCommit": o} for n, o in repo.tags.items()]
        return 200, {"branches": branches, "tags": tags, "converts": [], "pullRequests": []}, {}

    def _list_commits(self, req: Request) -> Response:
        repo = self._repo(req)
        commit: Commit | None = repo.resolve(req.args["rev"])
        history = []
        while commit is not None:
            history.append(
                {
                    "id": commit.oid,
                    "title": commit.title,
                    "message": commit.message,
                    "date": commit.date,
                    "authors": [{"user": DEFAULT_USER}],
                }
            )
            commit = repo.commits[commit.parent] if commit.parent else None
        return 200, history, {}

    # -- writes ------------------------------------------------------------------------------------

    def _preupload(self, req: Request) -> Response:
        commit = self._repo(req).resolve(req.args["rev"])
        remote = {path: git_blob_sha(data) for path, data in commit.files.items()}
        # The "oid" of an identical committed file lets the client drop no-op additions, like on the Hub.
        files = [
            {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": remote.get(f["path"])}
            for f in req.json().get("files", [])
        ]
        return 200, {"files": files, "commitOid": commit.oid}, {}

    def _commit(self, req: Request) -> Response:
        repo, branch = self._repo(req), req.args["rev"]
        if req.query.get("create_pr"):
            raise HubError(501, "LocalHubServer does not support create_pr=True")
        if branch not in repo.branches:  # the Hub only commits to existing branches (see create_branch)
            raise HubError(404, f"Invalid rev id: {branch}", "RevisionNotFound")
        files = dict(repo.commits[repo.branches[branch]].files)
        title = message = ""
        for line in filter(bytes.strip, req.body.splitlines()):
            item = json.loads(line)
            key, value = item["key"], item["value"]
            if key == "header":
                title, message = value.get("summary", ""), value.get("description", "")
                parent = value.get("parentCommit")
                if parent and not repo.branches[branch].startswith(parent):
                    raise HubError(412, f"Parent commit {parent} is not the head of {branch}")
            elif key == "file":
                content = value["content"]
                base64_encoded = value.get("encoding") == "base64"
                files[value["path"]] = base64.b64decode(content) if base64_encoded else content.encode()
            elif key == "deletedFile":
                if files.pop(value["path"], None) is None:
                    raise HubError(404, f"A file with this name doesn't exist: {value['path']}", "EntryNotFound")
            elif key == "deletedFolder":
                folder = value["path"].rstrip("/") + "/"
                files = {path: data for path, data in files.items() if not path.startswith(folder)}
            else:  # "lfsFile" cannot happen: preupload never answers "lfs"
                raise HubError(400, f"LocalHubServer does not support commit operation {key!r}")
        commit = self._new_commit(repo, branch, title, message, files)
        commit_url = f"{self._repo_url(repo)}/commit/{commit.oid}"
        return 200, {"success": True, "commitOid": commit.oid, "commitUrl": commit_url, "pullRequestUrl": None}, {}

    def _create_branch(self, req: Request) -> Response:
        repo, branch = self._repo(req), req.args["branch"]
        if branch in repo.branches:
            raise HubError(409, f"Reference refs/heads/{branch} already exists")
        repo.branches[branch] = repo.resolve(req.json().get("startingPoint") or "main").oid
        return 200, {}, {}

    def _create_tag(self, req: Request) -> Response:
        repo, tag = self._repo(req), req.json()["tag"]
        if tag in repo.tags:
            raise HubError(409, f"Tag {tag} already exists")
        repo.tags[tag] = repo.resolve(req.args["rev"]).oid
        return 200, {}, {}

    def _resolve(self, req: Request) -> Response:
        commit = self._repo(req).resolve(req.args["rev"])
        headers = {"X-Repo-Commit": commit.oid}
        data = commit.files.get(req.args["path"])
        if data is None:  # X-Repo-Commit on the 404 lets the client cache the absence (".no_exist")
            raise HubError(404, f"Entry not found: {req.args['path']}", "EntryNotFound", headers)
        return 200, data, {**headers, "ETag": f'"{git_blob_sha(data)}"', "Content-Type": "application/octet-stream"}


class _Handler(BaseHTTPRequestHandler):
    """Turns raw HTTP into ``LocalHubServer.handle`` calls; keep-alive, since the client pools connections."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: avoid a 40 ms delayed-ACK stall each

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()  # end of the (empty) trailer
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _dispatch(self, method: str) -> None:
        hub: LocalHubServer = self.server.hub  # type: ignore[attr-defined]
        body = self._read_body()  # always drain the body, or the next request on this connection is garbage
        try:
            status, payload, headers = hub.handle(method, self.path, body, self.headers.get("Authorization"))
        except HubError as e:
            status, payload = e.status, {"error": e.message}
            headers = {**e.headers, "X-Error-Message": e.message, **({"X-Error-Code": e.code} if e.code else {})}
        except Exception as e:  # a bug in this fake must give the client a readable 500, not a hang
            logger.exception("LocalHubServer: error while handling %s %s", method, self.path)
            status, payload, headers = 500, {"error": f"{type(e).__name__}: {e}"}, {}
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        if not isinstance(payload, bytes):
            self.send_header("Content-Type", "application/json")
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("LocalHubServer: " + format, *args)
