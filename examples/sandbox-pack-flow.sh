#!/usr/bin/env bash
# The Astria pack flow, end to end, against a local sandbox: free and offline.
# Usage: examples/sandbox-pack-flow.sh [SANDBOX_URL]   (default: starts one on a free port)
# Runs from any directory. The sandbox is started with $PYTHON (default: the repository's
# .venv, made by `python3 tasks.py setup`, else python3), which finds the packsync next to
# this script.
set -euo pipefail

if [ $# -ge 1 ]; then
    API=$1
else
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    python=${PYTHON:-}
    if [ -z "$python" ]; then
        if [ -x "$root/.venv/bin/python" ]; then python=$root/.venv/bin/python; else python=python3; fi
    fi
    db=$(mktemp -d)/astria.db
    coproc SANDBOX {
        PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" exec "$python" -m packsync sandbox --port 0 --db "$db" --render-delay 0.2
    }
    # Copies: bash drops SANDBOX and SANDBOX_PID as soon as it sees the server exit.
    sandbox_pid=$SANDBOX_PID
    exec {sandbox_out}<&"${SANDBOX[0]}"
    trap 'kill "$sandbox_pid" 2>/dev/null || true' EXIT
    API=""
    read -r _ API <&"$sandbox_out" || true    # first line: "listening http://127.0.0.1:PORT"
    if [ -z "$API" ]; then
        echo "the sandbox did not start ($python -m packsync sandbox)" >&2
        exit 1
    fi
fi
KEY=${ASTRIA_API_KEY:-sandbox-key}
auth=(-H "Authorization: Bearer $KEY")
json=(-H "Content-Type: application/json")
field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

echo "1. a free reference tune for the class 'woman' (branch fast: trained at once)"
ref=$(curl -sf "${auth[@]}" -X POST "$API/tunes" \
    -F "tune[title]=reference woman $(date +%s%N)" -F "tune[name]=woman" -F "tune[branch]=fast" \
    -F "tune[image_urls][]=https://example.com/1.jpg" | field '["id"]')
echo "   tune $ref"

echo "2. a pack"
pack=$(curl -sf "${auth[@]}" "${json[@]}" -X POST "$API/packs" \
    -d '{"pack": {"title": "Corporate Headshots", "base_tune_id": 1504944, "model_type": "lora"}}')
pack_id=$(echo "$pack" | field '["id"]'); slug=$(echo "$pack" | field '["slug"]')
echo "   pack $pack_id ($slug)"

echo "3. two template prompts on the reference tune, one with a {{characteristic}}"
for text in "<lora:$ref:1> ohwx woman, corporate headshot, {{eye_color}}" "<lora:$ref:1> ohwx woman, city street at dusk"; do
    curl -sf "${auth[@]}" "${json[@]}" -X POST "$API/tunes/$ref/prompts" \
        -d "{\"prompt\": {\"text\": \"$text\", \"pack_id\": $pack_id, \"num_images\": 2}}" | field '["id"]' | sed 's/^/   template /'
done

echo "4. a customer runs the pack: a tune of class woman, templates cloned onto it"
tune=$(curl -sf "${auth[@]}" "${json[@]}" -X POST "$API/p/$slug/tunes" \
    -d '{"tune": {"title": "customer 42", "name": "woman", "branch": "fast",
         "image_urls": ["https://example.com/a.jpg"], "characteristics": {"eye_color": "green eyes"}}}' | field '["id"]')
echo "   tune $tune"

echo "5. wait for the images (or give a callback URL in step 4)"
generated="$API/prompts?base_pack_id=$pack_id&tune_id=$tune"
for _ in $(seq 50); do
    ready=$(curl -sf "${auth[@]}" "$generated" | python3 -c 'import json,sys; print(sum(1 for p in json.load(sys.stdin) if p["images"]))')
    [ "$ready" = 2 ] && break
    sleep 0.1
done
curl -sf "${auth[@]}" "$generated" | python3 -c '
import json, sys
for p in json.load(sys.stdin):
    print("   prompt %(id)s (from template %(orig_prompt_id)s): %(text)s" % p)
    print("      images: %s" % ", ".join(p["images"]))'

echo "6. the customer likes an image; the like counts for the template"
liked=$(curl -sf "${auth[@]}" "$generated" | field '[0]["id"]')
curl -sf "${auth[@]}" -X POST "$API/prompts/$liked/likes" -o /dev/null -w "   POST /prompts/$liked/likes -> %{http_code}\n"
curl -sf "${auth[@]}" "$API/prompts?liked=true" | field '[0]["orig_prompt_id"]' | sed 's/^/   liked prompt came from template /'
