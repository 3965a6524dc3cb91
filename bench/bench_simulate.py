"""Benchmark: how long ``POST /_sandbox/simulate`` takes for 1,000 customer runs of a 60-template pack.

A ``packsync sandbox`` child process on a SQLite file (as it runs for a user), a pack of 60
templates (30 per class, 4 images each) made through the API, then 1,000 runs simulated
``--repeat`` times with a new seed each (each adds 30,000 prompts to the same database); the
time is the whole request, answer read. Target: at most 5 s per 1,000 runs.

    python bench/bench_simulate.py [--runs 1000] [--repeat 3] [--realistic]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sandboxproc import KEY, SandboxProcess

TARGET_SECONDS = 5.0


def call(url: str, path: str, body: Any) -> Any:
    request = urllib.request.Request(
        url + path,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=600) as answer:
        return json.loads(answer.read())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--realistic", action="store_true")
    options = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        SandboxProcess(Path(tmp) / "sim.db", *(["--realistic"] if options.realistic else [])) as sandbox,
    ):
        url = sandbox.url
        call(url, "/_sandbox/seed", {"tunes": [{"id": 690204, "name": "man"}, {"id": 690205, "name": "woman"}]})
        pack = call(url, "/packs", {"pack": {"title": "Bench Simulate", "base_tune_id": 1504944, "model_type": "lora"}})
        for n in range(60):
            tune, name = (690204, "man") if n % 2 else (690205, "woman")
            text = f"<lora:{tune}:1> ohwx {name} with {{{{eye_color}}}}, scene {n}"
            call(url, f"/tunes/{tune}/prompts", {"prompt": {"text": text, "pack_id": pack["id"], "num_images": 4}})
        times, answers = [], []
        for seed in range(options.repeat):
            start = time.perf_counter()
            answers.append(call(url, "/_sandbox/simulate", {"pack": pack["id"], "runs": options.runs, "seed": seed}))
            times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(f"simulate {options.runs} runs of a 60-template pack ({'realistic' if options.realistic else 'default'})")
    print("| seed | prompts | likes | seconds |\n| --- | --- | --- | --- |")
    for seed, (answer, seconds) in enumerate(zip(answers, times, strict=True)):
        print(f"| {seed} | {answer['prompts']:,} | {answer['likes']:,} | {seconds:.2f} |")
    print(f"median {median:.2f} s per {options.runs:,} runs (target <= {TARGET_SECONDS:g} s)")
    return 0 if median <= TARGET_SECONDS * options.runs / 1000 else 1


if __name__ == "__main__":
    sys.exit(main())
