"""Benchmark: small GET requests per second that ``packsync sandbox`` serves.

A lean load generator (bench/loadgen.py) keeps N keep-alive connections busy
for a fixed time against (1) the sandbox and (2) a baseline: the smallest
possible asyncio HTTP server answering a constant body, run the same way,
which is this machine's ceiling for this load generator. Target: at least
2,000 requests per second on a 2-core machine.

    python bench/bench_sandbox.py [--seconds 5] [--connections 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import textwrap
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import load
from sandboxproc import KEY, SandboxProcess

TARGET_RPS = 2000

BASELINE = textwrap.dedent(
    """
    import asyncio, sys
    BODY = b'{"id":1,"text":"<lora:1:1> ohwx man"}'
    HEAD = b"HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\n"
    RESPONSE = HEAD + b"Content-Length: %d\\r\\n\\r\\n" % len(BODY) + BODY
    async def serve(reader, writer):
        try:
            while await reader.readuntil(b"\\r\\n\\r\\n"):
                writer.write(RESPONSE)
                await writer.drain()
        except Exception:
            writer.close()
    async def main():
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        print("listening http://127.0.0.1:%d" % server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()
    asyncio.run(main())
    """
)


def _post(url: str, path: str, body: dict[str, object]) -> None:
    request = urllib.request.Request(
        url + path,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).read()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--smoke", action="store_true", help="small sizes are fine: report, never fail on a target")
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        with SandboxProcess(Path(tmp) / "sandbox.db") as sandbox:
            _post(sandbox.url, "/_sandbox/seed", {"tunes": [{"id": 690204, "name": "man"}]})
            _post(sandbox.url, "/tunes/690204/prompts", {"prompt": {"text": "<lora:690204:1> ohwx man, studio"}})
            for path in ("/prompts/1", "/tunes/690204"):
                ok, bad, elapsed = asyncio.run(
                    load("127.0.0.1", sandbox.port, path, KEY, args.connections, args.seconds)
                )
                if bad:
                    sys.exit(f"{bad} error responses from the sandbox")
                rows.append((f"sandbox GET {path}", ok / elapsed))
        baseline = subprocess.Popen([sys.executable, "-c", BASELINE], stdout=subprocess.PIPE, text=True)
        try:
            assert baseline.stdout is not None
            port = int(baseline.stdout.readline().rsplit(":", 1)[1])
            ok, _, elapsed = asyncio.run(load("127.0.0.1", port, "/", KEY, args.connections, args.seconds))
            base_rps = ok / elapsed
        finally:
            baseline.terminate()
            baseline.wait()

    print(f"{'case':<30} {'req/s':>9} {'vs baseline':>12} {'target':>9}  result")
    ok_all = True
    for case, rps in rows:
        passed = rps >= TARGET_RPS
        ok_all &= passed
        target = ">= " + format(TARGET_RPS, ",")
        print(f"{case:<30} {rps:>9,.0f} {rps / base_rps:>12.2f} {target:>9}  {'ok' if passed else 'MISSED'}")
    print(f"{'baseline (constant answer)':<30} {base_rps:>9,.0f} {1:>12.2f}")
    print(f"{args.connections} connections, {args.seconds:g} s each, python {sys.version.split()[0]}")
    return 0 if (ok_all) or args.smoke else 1


if __name__ == "__main__":
    sys.exit(main())
