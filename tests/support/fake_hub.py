"""A faithful fake Hugging Face Hub: a real threaded HTTP/1.1 server on 127.0.0.1 (ephemeral ports).

Nothing here touches the internet. Field names and headers follow the recorded shapes in
``tests/data/hf-samples`` (see its README for where each comes from).

Quick start::

    from tests.support.fake_hub import FakeHub

    with FakeHub() as hub:
        hub.url            # "http://127.0.0.1:<port>": the Hub (or mirror) endpoint to give HubClient
        hub.storage_url    # a second listener: the LFS storage origin resolve URLs redirect to
        hub.repos["fake-org/castle-lora"]   # a tests.support.fake_hub_data.Repo
        hub.add_repo(make_repo(...)); hub.update_file("fake-org/castle-lora", "x.safetensors", b"…")  # new commit
        hub.add_file("me/repo", "x.safetensors", b"…"); hub.head("me/repo")   # into the current commit; its sha
        hub.faults.rate_limit_times = 1; hub.faults.reset()
        hub.requests_to("storage")          # RecordedRequest(listener, method, path, query, headers)
        hub.sent["storage"]                 # body bytes that listener wrote (a client that hung up: what went out)

Tokens: ``TOKEN`` (accepted every gated repo), ``TOKEN_NOT_ACCEPTED`` (a valid token whose account has not
accepted), ``OWNER_TOKEN`` (owns the private repos, accepted the gated ones); any other token → 401
``Invalid credentials in Authorization header`` on every route, as the Hub answers.

Routes (API listener; URLs in headers are built from the request's ``Host``, so a mirror name works):

- ``GET /api/models``: ``search`` (substring of the id), ``author``, ``filter`` (repeatable, every one a tag),
  ``pipeline_tag``, ``sort`` (downloads, likes, lastModified, createdAt, trendingScore), ``direction`` (-1 = most
  first), ``limit`` (≤1000), ``expand`` (repeatable: only ``_id``, ``id`` and those fields; without it the default
  fields), ``cursor``; ``Link: <…>; rel="next"`` while more remain. Private repos only for their owner.
- ``GET /api/models/{repo}``, ``/api/models/{repo}/revision/{rev}`` (``blobs=true`` adds sizes and ``lfs``).
- ``GET /api/models/{repo}/tree/{rev}[/{folder}]``: ``recursive``, paged (``faults.tree_page_size``) with ``Link``.
- ``POST /api/models/{repo}/paths-info/{rev}`` (form or JSON ``paths``): the tree entries of those paths.
- ``GET``/``HEAD /{repo}/resolve/{rev}/{path}``: a git file → 200 with the bytes; an LFS file → **302** to a signed
  ``{storage_url}/lfs/{sha256}?…`` URL; both with ``X-Repo-Commit`` and ``ETag`` (LFS: ``X-Linked-Etag``,
  ``X-Linked-Size``). Gated repos: 401 ``GatedRepo`` without a token, 403 with one that has not accepted (their
  README.md and .gitattributes stay public). Private: 401 ``RepoNotFound`` without a token, 404 with another's.
- Errors: 404 ``{"error":"Repository not found"}`` + ``X-Error-Code: RepoNotFound``; ``RevisionNotFound``;
  ``EntryNotFound``; 429 with ``Retry-After``.
- Storage listener: ``GET``/``HEAD /lfs/{sha256}`` with a valid signature (else 403); 400 when any
  ``Authorization`` header arrives (as S3 answers); ``Range`` → 206 + ``Content-Range``, or 416; every request's
  headers are recorded.
- ``POST /__fake__/faults`` (JSON switches; ``{"reset": true}``) for a server in another process.

Fault switches (``hub.faults``): ``html_pages`` (API answers an HTML page with status 200, GET or POST; -1 always, N times),
``rate_limit_times`` with ``retry_after``, ``tree_page_size``, ``link_origin`` (the origin written into ``Link``
headers, as a mirror that passes the Hub's own through), ``ignore_range`` (storage sends the whole file).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from tests.support import fake_hub_data as data
from tests.support.fake_http import RecordedRequest, Switches, TwoOrigins
from tests.support.fake_hub_http import HubHandler

__all__ = ["OWNER_TOKEN", "TOKEN", "TOKEN_NOT_ACCEPTED", "FakeHub", "Faults", "RecordedRequest"]

TOKEN = "hf_fake_accepted_token"
TOKEN_NOT_ACCEPTED = "hf_fake_not_accepted_token"
OWNER_TOKEN = "hf_fake_owner_token"


@dataclass
class Faults(Switches):
    html_pages: int = 0
    rate_limit_times: int = 0
    retry_after: int = 7
    tree_page_size: int = 1000
    link_origin: str | None = None
    ignore_range: bool = False


class FakeHub(TwoOrigins):
    """See the module docstring. Start with ``with FakeHub() as hub:`` (or ``start()``/``stop()``)."""

    handler = HubHandler

    def __init__(self, repos: list[data.Repo] | None = None) -> None:
        super().__init__()
        self.faults = Faults()
        self.repos: dict[str, data.Repo] = {r.repo_id: r for r in (repos if repos is not None else data.default_repos())}
        self.tokens = {TOKEN, TOKEN_NOT_ACCEPTED, OWNER_TOKEN}
        self.accepted = {TOKEN, OWNER_TOKEN}  # tokens whose account accepted every gated repo's license
        self.owners = {OWNER_TOKEN}

    # -- state ----------------------------------------------------------------------------------
    def add_repo(self, repo: data.Repo) -> data.Repo:
        with self.lock:
            self.repos[repo.repo_id] = repo
        return repo

    def update_file(self, repo_id: str, path: str, content: bytes) -> str:
        """Commit a new version of one file on ``main``; older commits keep theirs. Returns the new sha."""
        with self.lock:
            repo = self.repos[repo_id]
            tree = dict(repo.commits[repo.head])
            tree[path] = data.blob(content, path)
            sha = data.commit_sha(repo_id, len(repo.commits) + 1)
            repo.commits[sha] = tree
            repo.branches["main"] = sha
        return sha

    def add_file(self, repo_id: str, path: str, content: bytes, *, lfs: bool | None = None) -> data.Blob:
        """Put a file into the repo's current commit (no new commit; the repo is made when missing).
        ``lfs`` overrides the guess from the name (an LFS file is served from the storage origin)."""
        with self.lock:
            repo = self.repos.get(repo_id) or self.repos.setdefault(repo_id, data.make_repo(repo_id, {}))
            stored = data.Blob(content, lfs) if lfs is not None else data.blob(content, path)
            repo.commits[repo.head][path] = stored
        return stored

    def head(self, repo_id: str) -> str:
        """The commit sha ``main`` points at."""
        return self.repos[repo_id].head

    def file(self, repo_id: str, path: str, revision: str = "main") -> data.Blob:
        repo = self.repos[repo_id]
        return repo.commits[repo.branches.get(revision, revision)][path]

    def take_fault(self, name: str) -> bool:
        """Use one count of a counted fault (-1 = forever)."""
        with self.lock:
            left = getattr(self.faults, name)
            if not left:
                return False
            if left > 0:
                setattr(self.faults, name, left - 1)
            return True

    def set_faults(self, changes: dict) -> dict:
        with self.lock:
            if changes.pop("reset", False):
                self.faults.reset()
            for key, value in changes.items():
                if hasattr(self.faults, key):
                    setattr(self.faults, key, value)
            return dict(self.faults.__dict__)


def main(argv: list[str] | None = None) -> None:
    """Run the fake Hub in its own process: prints one JSON line, serves until stdin closes.

    ``python -m tests.support.fake_hub`` → ``{"url", "storage_url", "tokens": {...}, "repos": [...]}``
    """
    import sys

    del argv
    with FakeHub() as hub:
        print(json.dumps({"url": hub.url, "storage_url": hub.storage_url,
                          "tokens": {"accepted": TOKEN, "not_accepted": TOKEN_NOT_ACCEPTED, "owner": OWNER_TOKEN},
                          "repos": sorted(hub.repos)}), flush=True)
        sys.stdin.read()  # the parent closes our stdin (or dies) to stop us


if __name__ == "__main__":
    main()
