"""A fake GitHub that also keeps branches, files and pull requests, for the pull requests that
``packsync experiment propose`` opens."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import httpx

from tests.ci.test_github import FakeGitHub


class FakeRepository(FakeGitHub):
    def __init__(self, files: dict[str, str]) -> None:
        super().__init__()
        self.branches: dict[str, dict[str, str]] = {"main": dict(files)}  # branch -> path -> text
        self.open_pulls: dict[int, dict[str, Any]] = {}
        self.commits = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        body = json.loads(request.content) if request.content else {}
        if path == "/repos/o/r" and method == "GET":
            self.calls.append(f"{method} {path}")
            return httpx.Response(200, json={"default_branch": "main"})
        if m := re.fullmatch(r"/repos/o/r/git/ref/heads/(.+)", path):
            self.calls.append(f"{method} {path}")
            if m.group(1) not in self.branches:
                return httpx.Response(404, json={"message": "Not Found"})
            return httpx.Response(200, json={"object": {"sha": f"sha-{m.group(1)}"}})
        if path == "/repos/o/r/git/refs" and method == "POST":
            self.calls.append(f"{method} {path}")
            name = body["ref"].removeprefix("refs/heads/")
            if name in self.branches:
                return httpx.Response(422, json={"message": "Reference already exists"})
            self.branches[name] = dict(self.branches[body["sha"].removeprefix("sha-")])
            return httpx.Response(201, json={"ref": body["ref"]})
        if m := re.fullmatch(r"/repos/o/r/contents/(.+)", path):
            self.calls.append(f"{method} {path}")
            return self._contents(method, m.group(1), body, request)
        if m := re.fullmatch(r"/repos/o/r/pulls(?:/(\d+))?", path):
            self.calls.append(f"{method} {path}")
            return self._pulls(method, m.group(1), body, request)
        return super().handler(request)

    def _contents(self, method: str, file: str, body: dict[str, Any], request: httpx.Request) -> httpx.Response:
        branch = request.url.params.get("ref") if method == "GET" else body["branch"]
        files = self.branches[str(branch)]
        if method == "GET":
            text = files[file]
            encoded = base64.encodebytes(text.encode()).decode()  # GitHub wraps it in lines
            return httpx.Response(200, json={"content": encoded, "sha": f"blob-{hash(text)}"})
        assert body["sha"] == f"blob-{hash(files[file])}", "a stale sha is refused by GitHub"
        files[file] = base64.b64decode(body["content"]).decode()
        self.commits += 1
        return httpx.Response(200, json={"commit": {"sha": f"c{self.commits}"}})

    def _pulls(self, method: str, number: str | None, body: dict[str, Any], request: httpx.Request) -> httpx.Response:
        if method == "GET":
            head = request.url.params.get("head", "")
            found = [p for p in self.open_pulls.values() if f"o:{p['head']}" == head and p["state"] == "open"]
            return httpx.Response(200, json=found)
        if method == "PATCH":
            self.open_pulls[int(str(number))].update(body)
            return httpx.Response(200, json=self.open_pulls[int(str(number))])
        self.next_id += 1
        pull = {"number": self.next_id, "state": "open", **body}
        self.open_pulls[self.next_id] = pull
        return httpx.Response(201, json=pull)
