"""Benchmark: ``packsync validate`` against ``check-jsonschema`` on the same files.

Both tools run as subprocesses, side by side in one run, so the figures
include start-up (which matters for a pre-commit hook) and are comparable on
any machine. Prints a table and exits 1 when a target ratio is missed.

    python bench/bench_validate.py [--files 500] [--prompts 60] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
SCHEMA = ROOT / "schemas" / "pack.schema.json"

VOCABULARY = """
studio portrait soft light window office city bokeh film grain golden hour backdrop charcoal blazer
linen shirt smile confident editorial lens sharp eyes warm cool tones evening rooftop library
bookshelf marble minimal clean modern classic black white
"""
WORDS = VOCABULARY.split()
PARAMS = ("seed", "num_images", "cfg_scale", "steps", "aspect_ratio", "negative_prompt")


def make_pack(index: int, prompts: int, rng: random.Random) -> str:
    title = f"Bench Pack {index}"
    lines = [
        "# yaml-language-server: $schema=../../../schemas/pack.schema.json",
        f"slug: bench-pack-{index}",
        f"title: {title}",
        "subtitle: Generated for the validate benchmark",
        "model:",
        "  base_tune_id: 666678",  # SDXL: negative prompts and any cfg_scale are allowed
        "  model_type: lora",
        "  token: ohwx",
        "classes:",
        f"  man: {{ tune_id: {100000 + index * 2} }}",
        f"  woman: {{ tune_id: {100001 + index * 2}, weight: 1 }}",
        "characteristics:",
        '  eye_color: { description: "eye colour phrase", example: "blue eyes" }',
        "defaults:",
        "  num_images: 4",
        '  negative_prompt: "blurry, lowres, watermark"',
        "  super_resolution: true",
        "  inpaint_faces: true",
        "prompts:",
    ]
    for p in range(prompts):
        words = " ".join(rng.choice(WORDS) for _ in range(18))
        lines.append(f"  - key: prompt-{p}")
        if p % 5 == 0:
            lines.append("    classes: [man]")
        eye = ", {{eye_color}}" if p % 3 == 0 else ""
        lines.append(f'    text: "{{{{subject}}}}{eye}, {words}, variant {p}"')
        for name in rng.sample(PARAMS, 2):
            if name == "seed":
                lines.append(f"    seed: {rng.randrange(0, 2**32)}")
            elif name == "num_images":
                lines.append(f"    num_images: {rng.randint(1, 8)}")
            elif name == "cfg_scale":
                lines.append(f"    cfg_scale: {rng.choice([3, 3.5, 5, 7.5])}")
            elif name == "steps":
                lines.append(f"    steps: {rng.randint(10, 50)}")
            elif name == "aspect_ratio":
                lines.append(f'    aspect_ratio: "{rng.choice(["1:1", "4:5", "2:3"])}"')
            else:
                lines.append(f'    negative_prompt: "{" ".join(rng.sample(WORDS, 4))}"')
    return "\n".join(lines) + "\n"


def generate(count: int, prompts: int) -> list[Path]:
    target = WORK / f"packs-{count}x{prompts}"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    rng = random.Random(20261122)
    files = []
    for i in range(count):
        path = target / f"bench-pack-{i:04d}.yaml"
        path.write_text(make_pack(i, prompts, rng), encoding="utf-8")
        files.append(path)
    return files


def timed(cmd: list[str], repeat: int) -> float:
    """Median wall time of ``cmd``; it must succeed every time."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            shown = " ".join(cmd[:4])
            sys.exit(f"failed ({done.returncode}): {shown} ...\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return statistics.median(times)


def tool(name: str) -> str:
    found = Path(sys.executable).parent / name
    if found.exists():
        return str(found)
    which = shutil.which(name)
    if which is None:
        sys.exit(f"{name} is not installed: pip install -e '.[dev]'")
    return which


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--prompts", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=3, help="runs of the many-file case (median)")
    parser.add_argument("--repeat-one", type=int, default=15, help="runs of the one-file case (median)")
    parser.add_argument("--smoke", action="store_true", help="small sizes are fine: report, never fail on a target")
    args = parser.parse_args()

    files = generate(args.files, args.prompts)
    packsync = [tool("packsync"), "validate"]
    cjs = [tool("check-jsonschema"), "--schemafile", str(SCHEMA)]
    names = [str(f) for f in files]
    one = [names[0]]

    rows = []
    base_many = timed(cjs + names, args.repeat)
    ours_many = timed(packsync + names, args.repeat)
    rows.append((f"{args.files} files x {args.prompts} prompts", ours_many, base_many, 0.15))
    base_one = timed(cjs + one, args.repeat_one)
    ours_one = timed(packsync + one, args.repeat_one)
    rows.append(("1 file (start-up)", ours_one, base_one, 0.5))

    print(f"{'case':<28} {'packsync':>10} {'check-jsonschema':>17} {'ratio':>7} {'target':>7}  result")
    ok = True
    for case, ours, base, target in rows:
        ratio = ours / base
        passed = ratio <= target
        ok &= passed
        print(
            f"{case:<28} {ours:>9.3f}s {base:>16.3f}s {ratio:>7.3f} {'<= ' + str(target):>7}  "
            f"{'ok' if passed else 'MISSED'}"
        )
    print(f"python {sys.version.split()[0]}, medians of {args.repeat} (many) and {args.repeat_one} (one) runs")
    return 0 if (ok) or args.smoke else 1


if __name__ == "__main__":
    sys.exit(main())
