"""Fetching images to embed: the key stays with the API, and every image is bounded and checked."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from packsync.astria.settings import Secret
from packsync.feedback.embed import Embedded, FetchLimits, ImageFetcher, redact, sniff
from packsync.sandbox.images import placeholder_png

KEY = "sk-embed-CANARY-51c0"
PNG = placeholder_png(1, 0)
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


class Server:
    """A local HTTP server whose answers a test sets per path; it records every request's headers."""

    def __init__(self) -> None:
        self.routes: dict[str, Callable[[], tuple[int, dict[str, str], bytes]]] = {}
        self.seen: list[tuple[str, str | None]] = []  # (path, Authorization header)
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server._lock:
                    server.seen.append((self.path, self.headers.get("Authorization")))
                    server.in_flight += 1
                    server.most_in_flight = max(server.most_in_flight, server.in_flight)
                try:
                    route = server.routes.get(self.path.split("?")[0])
                    status, headers, body = route() if route else (404, {"Content-Type": "text/plain"}, b"no")
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    if "Content-Length" not in headers and "Transfer-Encoding" not in headers:
                        self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def answer(self, path: str, body: bytes, kind: str = "image/png", status: int = 200, **headers: str) -> str:
        self.routes[path] = lambda: (status, {"Content-Type": kind, **headers}, body)
        return self.url + path

    def authorizations(self, path: str) -> list[str | None]:
        return [auth for seen, auth in self.seen if seen.split("?")[0] == path]


@pytest.fixture
def api() -> Iterator[Server]:
    server = Server()
    yield server
    server.httpd.shutdown()


@pytest.fixture
def cdn() -> Iterator[Server]:
    server = Server()  # another port: another origin
    yield server
    server.httpd.shutdown()


def embed(api: Server, urls: list[str], limits: FetchLimits | None = None) -> dict[str, Embedded]:
    async def go() -> dict[str, Embedded]:
        async with ImageFetcher(api.url, Secret(KEY), limits) as fetcher:
            return await fetcher.embed_all(urls)

    return asyncio.run(go())


def test_the_key_goes_to_the_api_host_only_never_to_a_cdn_nor_through_a_redirect(api: Server, cdn: Server) -> None:
    on_api = api.answer("/images/1.png", PNG)
    on_cdn = cdn.answer("/a/2.png", PNG)
    api.routes["/moved.png"] = lambda: (302, {"Location": cdn.url + "/a/3.png"}, b"")
    cdn.answer("/a/3.png", PNG)
    found = embed(api, [on_api, on_cdn, api.url + "/moved.png"])
    assert all(e.ok for e in found.values()), found
    assert api.authorizations("/images/1.png") == [f"Bearer {KEY}"]
    assert cdn.authorizations("/a/2.png") == [None]
    assert api.authorizations("/moved.png") == [f"Bearer {KEY}"]
    assert cdn.authorizations("/a/3.png") == [None]  # the redirect did not carry the key along
    assert found[on_api].data_uri.startswith("data:image/png;base64,")


def test_an_html_answer_is_never_embedded(api: Server, cdn: Server) -> None:
    page = b"<!doctype html><html><body>Sign in</body></html>"
    html = cdn.answer("/login", page, "text/html; charset=utf-8")
    lying = cdn.answer("/lying.png", page, "image/png")
    untyped = cdn.answer("/untyped", page, "application/octet-stream")
    found = embed(api, [html, lying, untyped])
    assert not any(e.ok for e in found.values())
    assert found[html].problem == "answered text/html, not an image"
    assert found[lying].problem == found[untyped].problem == "not a PNG, JPEG, GIF, WebP or AVIF image"


def test_an_image_is_recognised_by_its_bytes_whatever_its_declared_type(api: Server, cdn: Server) -> None:
    s3 = cdn.answer("/s3-object", JPEG, "binary/octet-stream")
    found = embed(api, [s3])[s3]
    assert found.ok and found.data_uri.startswith("data:image/jpeg;base64,")
    assert sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp" and sniff(b"<svg") is None


def test_sizes_are_bounded_whether_announced_or_not(api: Server, cdn: Server) -> None:
    big = PNG + b"\x00" * 5000
    announced = cdn.answer("/big.png", big)
    cdn.routes["/chunked.png"] = lambda: (
        200,
        {"Content-Type": "image/png", "Transfer-Encoding": "chunked"},
        f"{len(big):x}\r\n".encode() + big + b"\r\n0\r\n\r\n",
    )
    small = cdn.answer("/small.png", PNG)
    found = embed(api, [announced, cdn.url + "/chunked.png", small], FetchLimits(max_bytes=len(PNG) + 10))
    assert "over the limit" in found[announced].problem
    assert "over the limit" in found[cdn.url + "/chunked.png"].problem
    assert found[small].ok


def test_a_slow_image_times_out_and_fetches_are_bounded_in_number(api: Server, cdn: Server) -> None:
    def slow() -> tuple[int, dict[str, str], bytes]:
        time.sleep(0.3)
        return 200, {"Content-Type": "image/png"}, PNG

    for n in range(6):
        cdn.routes[f"/slow/{n}.png"] = slow
    urls = [f"{cdn.url}/slow/{n}.png" for n in range(6)]
    found = embed(api, urls, FetchLimits(concurrency=2))
    assert all(e.ok for e in found.values())
    assert cdn.most_in_flight <= 2

    def stuck() -> tuple[int, dict[str, str], bytes]:
        time.sleep(2)
        return 200, {"Content-Type": "image/png"}, PNG

    cdn.routes["/stuck.png"] = stuck
    started = time.monotonic()
    late = embed(api, [cdn.url + "/stuck.png"], FetchLimits(timeout=0.3))[cdn.url + "/stuck.png"]
    assert late.problem == "no answer within 0.3 s"
    assert time.monotonic() - started < 1.8


def test_failures_are_values_and_urls_are_shown_without_secrets(api: Server, cdn: Server) -> None:
    missing = cdn.answer("/gone.png", b"no", "text/plain", status=404)
    signed = f"{cdn.url}/gone.png?X-Amz-Signature=secret123&X-Amz-Credential=AKIA"
    refused = "http://127.0.0.1:1/never.png"
    found = embed(api, [missing, signed, refused, "ftp://example.test/x.png"])
    assert found[missing].problem == "answered 404 Not Found"
    assert found[refused].problem.startswith("cannot fetch it: ")
    assert found["ftp://example.test/x.png"].problem == "not an http(s) URL"
    assert redact(signed) == f"{cdn.url}/gone.png"
    assert redact("https://user:pw@cdn.example.test:8443/i/1.jpg?token=abc#frag") == (
        "https://cdn.example.test:8443/i/1.jpg"
    )
    assert all("secret123" not in e.problem for e in found.values())


def test_an_answer_that_echoes_the_key_never_shows_it() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        echoed = request.headers.get("authorization", "").encode()
        return httpx.Response(401, content=b"no", extensions={"reason_phrase": b"Refused " + echoed})

    async def go() -> Embedded:
        async with ImageFetcher("https://api.test", Secret(KEY), transport=httpx.MockTransport(handler)) as fetcher:
            return await fetcher.embed("https://api.test/images/1.png")

    found = asyncio.run(go())
    assert found.problem == "answered 401 Refused Bearer [redacted]"
