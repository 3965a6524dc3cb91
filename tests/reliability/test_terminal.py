"""Nothing the account holds reaches the terminal raw: control sequences in live template
texts are shown escaped by every command that prints them, and CSV cells are never formulas."""

from __future__ import annotations

import csv
import io

from tests.engine.conftest import Project

HOSTILE = "\x1b[2K\x1b[1A\rNo changes.\x07 \x9b31m\u202e <lora:690310:1> ohwx dog \x1b]0;pwned\x07"
FORMULA = '=HYPERLINK("http://x.test") <lora:690310:1> ohwx dog'
RAW = ("\x1b", "\x07", "\x9b", "\u202e", "\r")


def seed_hostile(project: Project) -> None:
    assert project.apply().code == 0
    with project.sandbox.http() as http:
        pack = http.get("/p/pet-portraits").json()
        for text in (HOSTILE, FORMULA):
            made = http.post("/tunes/690310/prompts", json={"prompt": {"text": text, "pack_id": pack["id"]}})
            assert made.status_code in (200, 201), made.text


def assert_clean(output: str) -> None:
    for char in RAW:
        assert char not in output, f"{char!r} reached the output"


def test_plan_apply_and_import_diff_escape_control_sequences(project: Project) -> None:
    seed_hostile(project)
    plan = project.plan()
    assert_clean(plan.out + plan.err)
    assert "\\x1b[2K\\x1b[1A\\rNo changes.\\x07" in plan.out
    for fmt in ("markdown", "json"):
        done = project.plan("--format", fmt)
        assert_clean(done.out + done.err)
    done = project.run("import", "--diff", "--all")
    assert_clean(done.out + done.err)
    assert "\\x1b]0;pwned\\x07" in done.out
    applied = project.apply("--allow-mass-removal")
    assert_clean(applied.out + applied.err)


def test_stats_csv_cells_are_never_formulas(project: Project) -> None:
    seed_hostile(project)
    done = project.run("stats", "--format", "csv")
    assert done.code == 0, done.err
    assert_clean(done.out)
    rows = list(csv.reader(io.StringIO(done.out)))
    column = rows[0].index("text")
    texts = [row[column] for row in rows[1:]]
    assert all(len(row) == len(rows[0]) for row in rows)
    assert not [t for t in texts if t[:1] in "=+-@"]
    assert "'" + FORMULA in texts


def test_escapes_are_complete_and_json_stays_json() -> None:
    import json

    from packsync.term import json_text, printable

    hostile = "a\x1b[2Jb\nc\u202ed\x9b\x7f\ud800 café"
    assert printable(hostile) == "a\\x1b[2Jb\\nc\\u202ed\\x9b\\x7f\\ud800 café"
    encoded = json_text({"t": hostile})
    assert json.loads(encoded) == {"t": hostile}
    assert all(char not in encoded for char in (*RAW, "\x7f", "\ud800")) and "café" in encoded
    encoded.encode("utf-8")  # never a lone surrogate on the wire or on disk


def test_a_servers_error_message_is_shown_escaped(project: Project) -> None:
    """A 422 whose message carries control sequences (a proxy, a crafted error) is shown escaped."""
    import json as json_module
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Hostile(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json_module.dumps({"error": "bad \x1b[2J\x1b]0;owned\x07 request"}).encode()
            self.send_response(422)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        (project.root / "packsync.yaml").write_text(
            f"targets:\n  t:\n    url: http://127.0.0.1:{server.server_port}\n    key_env: PACKSYNC_TEST_KEY\n"
        )
        done = project.plan()
    finally:
        server.shutdown()
    assert done.code == 1
    assert_clean(done.out + done.err)
    assert "\\x1b[2J\\x1b]0;owned\\x07" in done.err
