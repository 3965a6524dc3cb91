"""The JSON the API answers with: prompts, tunes, packs."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from packsync.facts import (
    PROMPT_PARAM_DEFAULTS,
    SERVER_TAG_RE,
)
from packsync.sandbox.context import TUNE_LIFETIME, AppState
from packsync.sandbox.realism import CLASS_AFTER_TAG, SPARSE_ECHO
from packsync.sandbox.realistic import class_after_tag, sparse_prompt
from packsync.sandbox.store import now_iso

# What GET /p/:id is documented (or seen in Astria's clients) to return (A3).
DOCUMENTED_DETAIL = frozenset(
    {
        "id", "slug", "title", "cover_url", "created_at", "updated_at", "public_at", "unlisted_at", "logo",
        "costs", "prompts_per_class", "template_prompts",
    }
)  # fmt: skip


class Views(AppState):
    def prompt_json(self, row: sqlite3.Row) -> dict[str, Any]:
        out: dict[str, Any] = {"id": row["id"], "tune_id": row["tune_id"], "text": row["text"]}
        out.update(PROMPT_PARAM_DEFAULTS)
        stored = row["params"]
        if stored != "{}":
            params = json.loads(stored)
            out.update((k, v) for k, v in params.items() if k in PROMPT_PARAM_DEFAULTS)
        out["num_images"] = row["num_images"]
        images = row["images"]
        out.update(
            {
                "callback": row["callback"],
                "pack_id": row["pack_id"],
                "base_pack_id": row["base_pack_id"],
                "orig_prompt_id": row["orig_prompt_id"],
                "order_id": None,
                "images": [] if images == "[]" else self.image_urls(images),
                "trained_at": row["trained_at"],
                "started_training_at": row["started_training_at"],
                "user_error": row["user_error"],
                "cost_mc": row["cost_mc"],
                "created_at": row["created_at"],
                "updated_at": row["updated_at"],
                "url": f"{self.config.base_url}/tunes/{row['tune_id']}/prompts/{row['id']}.json",
            }
        )
        if self.real(SPARSE_ECHO):
            sent = json.loads(stored)
            return sparse_prompt(out, sent, self.config.account_scheduler, self.config.account_backend_version)
        return out

    def image_urls(self, stored: str) -> list[str]:
        """A prompt's image URLs from its stored paths, on this sandbox's current base URL."""
        return [self.config.base_url + url if url.startswith("/") else url for url in json.loads(stored)]

    def tune_json(self, row: sqlite3.Row) -> dict[str, Any]:
        data = json.loads(row["data"])
        trained = row["trained_at"]
        created = row["created_at"]
        mock = "https://sdbooth2-production.s3.amazonaws.com/mock"
        return {
            "id": row["id"],
            "title": row["title"],
            "name": row["name"],
            "token": row["token"],
            "base_tune_id": row["base_tune_id"],
            "args": None,
            "steps": data.get("steps"),
            "face_crop": data.get("face_crop"),
            "training_face_correct": bool(data.get("training_face_correct", False)),
            "ckpt_url": mock if trained else None,
            "ckpt_urls": [mock] if trained else [],
            "eta": now_iso(row["ready_at"]) if row["ready_at"] else created,
            "trained_at": trained,
            "started_training_at": created,
            "expires_at": now_iso(parse_time(created) + TUNE_LIFETIME),
            "created_at": created,
            "updated_at": row["updated_at"],
            "branch": row["branch"],
            "model_type": row["model_type"],
            "characteristics": data.get("characteristics") or {},
            "auto_extend": bool(data.get("auto_extend", False)),
            "callback": row["callback"],
            "is_api": True,
            "orig_images": data.get("image_urls") or data.get("images") or [],
            "url": f"{self.config.base_url}/tunes/{row['id']}.json",
        }

    def class_for(self, tune: sqlite3.Row, text: str) -> str:
        """A prompt's class: the name of the tune its text references, else of the tune it is created on;
        with class-after-tag, the word after the tag."""
        if self.real(CLASS_AFTER_TAG):
            word = class_after_tag(self.store, text)
            if word:
                return word
        match = SERVER_TAG_RE.search(text)
        if match is not None:
            referenced = self.store.tune(None, int(match.group(2)))
            if referenced is not None:
                return str(referenced["name"])
        return str(tune["name"])

    def class_of(self, row: sqlite3.Row) -> str:
        return str(row["class_name"])

    def pack_summary(self, row: sqlite3.Row, costs: dict[str, tuple[int, int]] | None = None) -> dict[str, Any]:
        if costs is None:
            costs = self.store.pack_costs([row["id"]])[row["id"]]
        cost_hash = {cls: cost for cls, (cost, _) in sorted(costs.items())}
        return {
            "id": row["id"],
            "base_tune_id": row["base_tune_id"],
            "user_id": row["user_id"],
            "slug": row["slug"],
            "title": row["title"],
            "subtitle": row["subtitle"],
            "token": row["token"],
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
            "multiplier": row["multiplier"],
            "model_type": row["model_type"],
            "public_at": row["public_at"],
            "unlisted_at": row["unlisted_at"],
            "cost_mc_hash": cost_hash,
        }

    def pack_detail(self, row: sqlite3.Row) -> dict[str, Any]:
        templates = self.store.pack_templates(row["id"])
        out = self.pack_summary(row)
        costs: dict[str, dict[str, int]] = {}
        per_class: dict[str, list[dict[str, Any]]] = {}
        listed = []
        for t in templates:
            cls = self.class_of(t)
            entry = costs.setdefault(cls, {"cost_mc": 0, "num_images": 0})
            entry["cost_mc"] += t["cost_mc"]
            entry["num_images"] += t["num_images"]
            images = self.image_urls(t["images"])
            per_class.setdefault(cls, []).append({"id": t["id"], "images": images})
            listed.append({**self.prompt_json(t), "class_name": cls})
        cover = next((self.image_urls(t["images"])[0] for t in reversed(templates) if json.loads(t["images"])), None)
        out.update(
            {
                "subtitle": row["subtitle"],
                "preset": row["preset"],
                "cover_url": cover,
                "logo": None,
                "costs": costs,
                "prompts_per_class": per_class,
                "template_prompts": sorted(listed, key=lambda p: -p["id"]),
            }
        )
        if self.real(SPARSE_ECHO):
            # the documented detail (A3): no preset, subtitle, token or model; templates as ids and prices
            out = {k: v for k, v in out.items() if k in DOCUMENTED_DETAIL}
            out["template_prompts"] = [{"id": p["id"], "cost_mc": p["cost_mc"]} for p in out["template_prompts"]]
        return out


def parse_time(stamp: str) -> float:
    return time.mktime(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
