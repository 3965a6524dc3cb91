"""``python -m packsync sandbox`` as a real process: its first line, its database, its key, how it stops."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

STARTUP = 10.0
LISTENING = re.compile(r"listening http://127\.0\.0\.1:(\d+)\n")


@dataclass
class Running:
    process: subprocess.Popen[str]
    first_line: str
    url: str

    def http(self, key: str = "any-key") -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=5)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PACKSYNC_SANDBOX_KEY"}
    env["NO_COLOR"] = "1"
    return env


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "packsync", "sandbox", *args]


def _first_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    stream = process.stdout
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    try:
        return lines.get(timeout=STARTUP)
    except queue.Empty:
        return ""


def _kill(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(5)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


@contextmanager
def sandbox_process(db: Path, *args: str) -> Iterator[Running]:
    process = subprocess.Popen(
        _command("--port", "0", "--db", str(db), "--render-delay", "0.05", "--train-delay", "0.1", *args),
        cwd=db.parent,
        env=_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = _first_line(process)
        match = LISTENING.fullmatch(line)
        url = f"http://127.0.0.1:{match.group(1)}" if match else ""
        yield Running(process, line, url)
    finally:
        _kill(process)


def _stop(running: Running) -> int:
    running.process.send_signal(signal.SIGTERM)
    return running.process.wait(5)


def test_first_stdout_line_is_exactly_the_listening_url(tmp_path: Path) -> None:
    with sandbox_process(tmp_path / "s.db") as running:
        assert LISTENING.fullmatch(running.first_line), running.first_line
        port = int(running.url.rsplit(":", 1)[1])
        assert 0 < port < 65536
        with running.http() as http:
            assert http.get("/packs").json() == []
            assert http.get("/packs", headers={"Authorization": ""}).status_code == 401


def test_sigterm_stops_the_sandbox_within_5_seconds_with_exit_code_0(tmp_path: Path) -> None:
    with sandbox_process(tmp_path / "s.db") as running:
        assert running.url
        with running.http() as http:  # an idle keep-alive connection must not hold the shutdown
            http.get("/packs")
            started = time.monotonic()
            assert _stop(running) == 0
        assert time.monotonic() - started < 5


def test_a_created_pack_survives_a_restart_with_the_same_db(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with sandbox_process(db) as running, running.http() as http:
        created = http.post("/packs", json={"pack": {"title": "Durable Pack", "base_tune_id": 1}})
        assert created.status_code == 201
        assert _stop(running) == 0
    with sandbox_process(db) as running, running.http() as http:
        assert running.url
        pack = http.get("/p/durable-pack")
        assert pack.status_code == 200
        assert pack.json()["id"] == created.json()["id"]
        assert [p["slug"] for p in http.get("/packs").json()] == ["durable-pack"]
        again = http.post("/packs", json={"pack": {"title": "Durable Pack", "base_tune_id": 1}}).json()
        assert again["slug"] == "durable-pack-2"
        assert again["id"] > created.json()["id"]


def test_key_option_rejects_other_keys(tmp_path: Path) -> None:
    with sandbox_process(tmp_path / "s.db", "--key", "k") as running:
        with running.http("k") as http:
            assert http.get("/packs").status_code == 200
        with running.http("other") as http:
            response = http.get("/packs")
            assert response.status_code == 401
            assert "error" in response.json()


@pytest.mark.parametrize(
    "fault",
    ["429=2", "429=-0.5", "nope=0.1", "429", "500=abc"],
)
def test_an_invalid_fault_option_fails_with_exit_1_and_one_line(tmp_path: Path, fault: str) -> None:
    process = subprocess.Popen(
        _command("--port", "0", "--db", str(tmp_path / "s.db"), "--fault", fault),
        cwd=tmp_path,
        env=_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = process.communicate(timeout=STARTUP)
    finally:
        _kill(process)
    assert process.returncode == 1
    assert out == ""  # it never said it was listening
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("packsync: error: ")


def test_rendered_images_are_still_served_after_a_restart_on_another_port(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with sandbox_process(db) as running, running.http() as http:
        tune = http.post(
            "/tunes", json={"tune": {"title": "t", "name": "woman", "branch": "fast", "image_urls": ["u"]}}
        )
        prompt = http.post(f"/tunes/{tune.json()['id']}/prompts", json={"prompt": {"text": "ohwx woman"}}).json()
        deadline = time.monotonic() + 5
        while not http.get(f"/prompts/{prompt['id']}").json()["images"]:
            assert time.monotonic() < deadline, "the prompt was not rendered"
            time.sleep(0.02)
        first_url = running.url
        assert _stop(running) == 0
    with sandbox_process(db) as running, running.http() as http:
        if running.url == first_url:
            pytest.skip("the OS gave the same port again, so the test proves nothing")
        (image,) = http.get(f"/prompts/{prompt['id']}").json()["images"]
        assert image.startswith(running.url + "/")
        response = http.get(image)
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/png"
