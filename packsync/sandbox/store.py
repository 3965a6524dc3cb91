"""The sandbox's state, in SQLite: packs, tunes, prompts, likes and settings.

One connection, used only from the server's event loop thread, so requests
never interleave inside a write; WAL mode lets other processes read the file
while the sandbox runs, and every write is committed before it is answered.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
OWN_USER = 1  # the caller; packs of other users exist only in the realistic mode's gallery
# Astria's gallery base models (A9): another user's tunes, which every caller may create prompts on
# (a pack's templates are POSTed on its base model) but which no caller's GET /tunes lists or
# GET /tunes/:id shows. id -> (title, branch); the name is no class.
GALLERY_MODELS = {1504944: ("Flux1.dev", "flux1"), 666678: ("SDXL 1.0", "sdxl1")}
_GALLERY_STAMP = "2024-01-01T00:00:00.000Z"
_GALLERY_DATA = json.dumps({"gallery": True, "auto_extend": True})  # renders faceid; never expires

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS packs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace TEXT NOT NULL DEFAULT '',
    slug TEXT NOT NULL,
    title TEXT NOT NULL,
    subtitle TEXT,
    base_tune_id INTEGER,
    model_type TEXT,
    token TEXT NOT NULL DEFAULT 'ohwx',
    preset TEXT,
    multiplier REAL NOT NULL DEFAULT 1,
    public_at TEXT,
    unlisted_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS packs_slug ON packs (workspace, slug);
CREATE TABLE IF NOT EXISTS tunes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL,
    name TEXT NOT NULL,
    branch TEXT NOT NULL DEFAULT 'fast',
    model_type TEXT,
    base_tune_id INTEGER,
    token TEXT NOT NULL DEFAULT 'ohwx',
    data TEXT NOT NULL DEFAULT '{}',
    ready_at REAL NOT NULL,
    trained_at TEXT,
    callback TEXT,
    callback_sent INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tunes_title ON tunes (workspace, title);
CREATE TABLE IF NOT EXISTS prompts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace TEXT NOT NULL DEFAULT '',
    tune_id INTEGER NOT NULL,
    pack_id INTEGER,
    base_pack_id INTEGER,
    orig_prompt_id INTEGER,
    text TEXT NOT NULL,
    class_name TEXT NOT NULL DEFAULT '',
    params TEXT NOT NULL DEFAULT '{}',
    callback TEXT,
    num_images INTEGER NOT NULL DEFAULT 1,
    cost_mc INTEGER NOT NULL DEFAULT 0,
    images TEXT NOT NULL DEFAULT '[]',
    ready_at REAL NOT NULL,
    trained_at TEXT,
    started_training_at TEXT,
    user_error TEXT,
    likes INTEGER NOT NULL DEFAULT 0,
    liked INTEGER NOT NULL DEFAULT 0,
    run_id INTEGER,
    callback_sent INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS prompts_pack ON prompts (pack_id, id);
CREATE INDEX IF NOT EXISTS prompts_tune ON prompts (tune_id, id);
CREATE INDEX IF NOT EXISTS prompts_orig ON prompts (orig_prompt_id);
CREATE INDEX IF NOT EXISTS prompts_base_pack ON prompts (base_pack_id, id);
CREATE INDEX IF NOT EXISTS prompts_pending ON prompts (trained_at, ready_at);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pack_id INTEGER NOT NULL,
    prompts_callback TEXT,
    done INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
"""


def now_iso(at: float | None = None) -> str:
    moment = time.time() if at is None else at
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{int((moment % 1) * 1000):03d}Z"


class Store:
    """All reads and writes of the sandbox's state."""

    def __init__(self, path: Path | str) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA busy_timeout=5000")
        self.db.executescript(_DDL)
        columns = {row["name"] for row in self.db.execute("PRAGMA table_info(packs)")}
        if "user_id" not in columns:  # a database from before other users' packs existed
            self.db.execute(f"ALTER TABLE packs ADD COLUMN user_id INTEGER NOT NULL DEFAULT {OWN_USER}")
        self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        self.db.close()

    # -- transactions -------------------------------------------------------

    def begin(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.db.execute("COMMIT")

    def rollback(self) -> None:
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    # -- settings -----------------------------------------------------------

    def setting(self, key: str, default: str) -> str:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (f"setting:{key}",)).fetchone()
        return str(row["value"]) if row else default

    def set_setting(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (f"setting:{key}", value))

    def reset(self) -> None:
        """Forget everything except settings."""
        for table in ("packs", "tunes", "prompts", "runs"):
            self.db.execute(f"DELETE FROM {table}")
        self.db.execute("DELETE FROM sqlite_sequence")

    # -- packs --------------------------------------------------------------

    def insert_pack(
        self, workspace: str, fields: dict[str, Any], pack_id: int | None = None, user_id: int = OWN_USER
    ) -> int:
        stamp = now_iso()
        cursor = self.db.execute(
            "INSERT INTO packs (id, user_id, workspace, slug, title, subtitle, base_tune_id, model_type, token, "
            "preset, multiplier, public_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                pack_id,
                user_id,
                workspace,
                fields["slug"],
                fields["title"],
                fields.get("subtitle"),
                fields.get("base_tune_id"),
                fields.get("model_type"),
                fields.get("token") or "ohwx",
                fields.get("preset"),
                fields.get("multiplier", 1),
                fields.get("public_at"),
                stamp,
                stamp,
            ),
        )
        return int(cursor.lastrowid or 0)

    def slug_taken(self, slug: str) -> bool:
        """Slugs are global, as Astria's seem to be (``/p/<slug>`` resolves other users' packs)."""
        row = self.db.execute("SELECT 1 FROM packs WHERE slug = ?", (slug,)).fetchone()
        return row is not None

    def pack(self, scope: str | None, ref: str) -> sqlite3.Row | None:
        """A pack by id, else by slug (a slug may be all digits); ``scope`` None means every workspace."""
        if ref.isdigit():
            found = self._pack_by("id", int(ref), scope)
            if found is not None:
                return found
        return self._pack_by("slug", ref, scope)

    def _pack_by(self, column: str, value: Any, scope: str | None) -> sqlite3.Row | None:
        """Other users' packs resolve in every scope, as gallery packs do."""
        if scope is None:
            return _one(self.db.execute(f"SELECT * FROM packs WHERE {column} = ?", (value,)))
        return _one(
            self.db.execute(
                f"SELECT * FROM packs WHERE {column} = ? AND (workspace = ? OR user_id != ?) ORDER BY user_id = ? DESC",
                (value, scope, OWN_USER, OWN_USER),
            )
        )

    def packs(self, scope: str | None, limit: int | None, offset: int) -> list[sqlite3.Row]:
        """The caller's own packs, newest first."""
        where = "WHERE user_id = ?" if scope is None else "WHERE user_id = ? AND workspace = ?"
        params: list[Any] = [OWN_USER] if scope is None else [OWN_USER, scope]
        sql = f"SELECT * FROM packs {where} ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params += [limit, offset]
        return list(self.db.execute(sql, params))

    # -- tunes --------------------------------------------------------------

    def insert_tune(self, workspace: str, fields: dict[str, Any], ready_at: float, tune_id: int | None = None) -> int:
        stamp = now_iso()
        data = {k: v for k, v in fields.items() if k not in _TUNE_COLUMNS}
        cursor = self.db.execute(
            "INSERT INTO tunes (id, workspace, title, name, branch, model_type, base_tune_id, token, data, "
            "ready_at, callback, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                tune_id,
                workspace,
                fields["title"],
                fields["name"],
                fields.get("branch") or "fast",
                fields.get("model_type"),
                fields.get("base_tune_id"),
                fields.get("token") or "ohwx",
                json.dumps(data),
                ready_at,
                fields.get("callback"),
                stamp,
                stamp,
            ),
        )
        return int(cursor.lastrowid or 0)

    def _page(
        self, table: str, clauses: list[str], params: list[Any], before_id: int | None, limit: int, offset: int
    ) -> list[sqlite3.Row]:
        """A page of a list, newest first: ``before_id`` is the keyset cursor of A2."""
        if before_id is not None:
            clauses = [*clauses, "id < ?"]
            params = [*params, before_id]
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT * FROM {table} {where} ORDER BY id DESC LIMIT ? OFFSET ?"
        return list(self.db.execute(sql, [*params, limit, offset]))

    def _by_id(self, table: str, row_id: int, scope: str | None) -> sqlite3.Row | None:
        if scope is None:
            return _one(self.db.execute(f"SELECT * FROM {table} WHERE id = ?", (row_id,)))
        return _one(self.db.execute(f"SELECT * FROM {table} WHERE id = ? AND workspace = ?", (row_id, scope)))

    def tune(self, scope: str | None, tune_id: int) -> sqlite3.Row | None:
        return self._by_id("tunes", tune_id, scope)

    def post_target(self, scope: str | None, tune_id: int) -> sqlite3.Row | None:
        """A tune prompts may be created on: the caller's (in ``scope``), else a gallery base model,
        as a row like a tune's (it is in no table: it is no caller's, and its id takes no one's)."""
        found = self.tune(scope, tune_id)
        if found is not None or tune_id not in GALLERY_MODELS:
            return found
        title, branch = GALLERY_MODELS[tune_id]
        return _one(
            self.db.execute(
                "SELECT ? AS id, '' AS workspace, ? AS title, ? AS name, ? AS branch, NULL AS model_type, "
                "NULL AS base_tune_id, 'ohwx' AS token, ? AS data, 0.0 AS ready_at, ? AS trained_at, "
                "NULL AS callback, 1 AS callback_sent, ? AS created_at, ? AS updated_at",
                (tune_id, title, title, branch, _GALLERY_DATA, _GALLERY_STAMP, _GALLERY_STAMP, _GALLERY_STAMP),
            )
        )

    def tune_by_title(self, workspace: str, title: str) -> sqlite3.Row | None:
        return _one(
            self.db.execute(
                "SELECT * FROM tunes WHERE workspace = ? AND title = ? ORDER BY id LIMIT 1", (workspace, title)
            )
        )

    def tunes(
        self, scope: str | None, filters: dict[str, Any], before_id: int | None, limit: int, offset: int
    ) -> list[sqlite3.Row]:
        clauses, params = _scope(scope)
        for column in ("title", "model_type", "branch"):
            if column in filters:
                clauses.append(f"{column} = ?")
                params.append(filters[column])
        if filters.get("names"):
            clauses.append(f"name IN ({','.join('?' * len(filters['names']))})")
            params.extend(filters["names"])
        return self._page("tunes", clauses, params, before_id, limit, offset)

    def count_titled(self, pattern: str) -> int:
        """How many tunes have a title ``LIKE pattern``."""
        return int(self.db.execute("SELECT COUNT(*) FROM tunes WHERE title LIKE ?", (pattern,)).fetchone()[0])

    def update_tune(self, tune_id: int, fields: dict[str, Any]) -> None:
        row = self.db.execute("SELECT data FROM tunes WHERE id = ?", (tune_id,)).fetchone()
        data = json.loads(row["data"]) if row else {}
        sets, params = [], []
        for key, value in fields.items():
            if key in ("title", "name"):
                sets.append(f"{key} = ?")
                params.append(value)
            else:
                data[key] = value
        sets += ["data = ?", "updated_at = ?"]
        params += [json.dumps(data), now_iso(), tune_id]
        self.db.execute(f"UPDATE tunes SET {', '.join(sets)} WHERE id = ?", params)

    def delete_tune(self, tune_id: int) -> None:
        self.db.execute("DELETE FROM tunes WHERE id = ?", (tune_id,))

    # -- prompts ------------------------------------------------------------

    def insert_prompt(self, workspace: str, fields: dict[str, Any]) -> int:
        row = prompt_row(workspace, fields, now_iso())
        marks = ", ".join("?" * len(row))
        cursor = self.db.execute(f"INSERT INTO prompts ({', '.join(row)}) VALUES ({marks})", list(row.values()))
        return int(cursor.lastrowid or 0)

    def next_id(self, table: str) -> int:
        """The id the next row of ``table`` gets (AUTOINCREMENT: never one used before)."""
        assert table in ("prompts", "tunes", "runs")
        seq = self.db.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
        top = self.db.execute(f"SELECT MAX(id) FROM {table}").fetchone()[0]
        return max(int(seq[0]) if seq else 0, int(top or 0)) + 1

    def insert_many(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        """Rows of ``table`` in one statement, each with the same columns (the simulator's batches)."""
        assert table in ("prompts", "tunes", "runs")
        if not rows:
            return
        columns = list(rows[0])
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        self.db.executemany(sql, [[row[c] for c in columns] for row in rows])

    def add_template_likes(self, counts: dict[int, int]) -> None:
        """``counts`` more likes on each template, as that many likes of its clones add (``like``)."""
        self.db.executemany("UPDATE prompts SET likes = likes + ? WHERE id = ?", [(n, t) for t, n in counts.items()])

    def prompt(self, scope: str | None, prompt_id: int) -> sqlite3.Row | None:
        return self._by_id("prompts", prompt_id, scope)

    def same_text_prompts(self, workspace: str, tune_id: int, text: str) -> list[sqlite3.Row]:
        return list(
            self.db.execute(
                "SELECT * FROM prompts WHERE workspace = ? AND tune_id = ? AND text = ? ORDER BY id",
                (workspace, tune_id, text),
            )
        )

    def prompts(
        self, scope: str | None, filters: dict[str, Any], before_id: int | None, limit: int, offset: int
    ) -> list[sqlite3.Row]:
        clauses, params = _scope(scope)
        for column in ("pack_id", "base_pack_id", "tune_id", "orig_prompt_id"):
            if column in filters:
                clauses.append(f"{column} = ?")
                params.append(filters[column])
        if filters.get("liked"):
            clauses.append("liked > 0")
        if "text" in filters:
            clauses.append("instr(text, ?) > 0")
            params.append(filters["text"])
        return self._page("prompts", clauses, params, before_id, limit, offset)

    def pack_costs(self, pack_ids: Sequence[int]) -> dict[int, dict[str, tuple[int, int]]]:
        """Per pack and class: (cost_mc, num_images) of its templates, in one query."""
        out: dict[int, dict[str, tuple[int, int]]] = {pid: {} for pid in pack_ids}
        if not pack_ids:
            return out
        marks = ",".join("?" * len(pack_ids))
        rows = self.db.execute(
            f"SELECT pack_id, class_name, SUM(cost_mc) AS cost, SUM(num_images) AS images FROM prompts "
            f"WHERE pack_id IN ({marks}) GROUP BY pack_id, class_name",
            list(pack_ids),
        )
        for row in rows:
            out[row["pack_id"]][row["class_name"]] = (int(row["cost"]), int(row["images"]))
        return out

    def pack_templates(self, pack_id: int) -> list[sqlite3.Row]:
        return list(self.db.execute("SELECT * FROM prompts WHERE pack_id = ? ORDER BY id", (pack_id,)))

    def update_prompt(self, prompt_id: int, fields: dict[str, Any]) -> None:
        sets = [f"{key} = ?" for key in fields] + ["updated_at = ?"]
        params = [*fields.values(), now_iso(), prompt_id]
        self.db.execute(f"UPDATE prompts SET {', '.join(sets)} WHERE id = ?", params)

    def delete_prompt(self, prompt_id: int) -> None:
        self.db.execute("DELETE FROM prompts WHERE id = ?", (prompt_id,))

    def like(self, prompt_id: int, delta: int) -> None:
        row = self.db.execute("SELECT orig_prompt_id, liked FROM prompts WHERE id = ?", (prompt_id,)).fetchone()
        if row is None:
            return
        liked = min(1, max(0, row["liked"] + delta))  # a prompt is liked or not
        if liked == row["liked"]:
            return  # liking twice, or unliking what is not liked, changes nothing
        self.db.execute("UPDATE prompts SET liked = ?, likes = likes + ? WHERE id = ?", (liked, delta, prompt_id))
        if row["orig_prompt_id"] is not None:
            self.db.execute("UPDATE prompts SET likes = MAX(0, likes + ?) WHERE id = ?", (delta, row["orig_prompt_id"]))

    # -- runs and completion ------------------------------------------------

    def insert_run(self, pack_id: int, prompts_callback: str | None) -> int:
        cursor = self.db.execute(
            "INSERT INTO runs (pack_id, prompts_callback, created_at) VALUES (?, ?, ?)",
            (pack_id, prompts_callback, now_iso()),
        )
        return int(cursor.lastrowid or 0)

    def due_prompts(self, moment: float) -> list[sqlite3.Row]:
        return list(self.db.execute("SELECT * FROM prompts WHERE trained_at IS NULL AND ready_at <= ?", (moment,)))

    def due_tunes(self, moment: float) -> list[sqlite3.Row]:
        return list(self.db.execute("SELECT * FROM tunes WHERE trained_at IS NULL AND ready_at <= ?", (moment,)))

    def next_due(self) -> float | None:
        row = self.db.execute(
            "SELECT MIN(r) AS r FROM (SELECT MIN(ready_at) AS r FROM prompts WHERE trained_at IS NULL "
            "UNION ALL SELECT MIN(ready_at) FROM tunes WHERE trained_at IS NULL)"
        ).fetchone()
        return None if row is None or row["r"] is None else float(row["r"])

    def finish_tune(self, tune_id: int, trained_at: str) -> None:
        self.db.execute(
            "UPDATE tunes SET trained_at = ?, updated_at = ? WHERE id = ?", (trained_at, trained_at, tune_id)
        )

    def finish_prompt(self, prompt_id: int, trained_at: str, images: Sequence[str]) -> None:
        self.db.execute(
            "UPDATE prompts SET trained_at = ?, images = ?, updated_at = ? WHERE id = ?",
            (trained_at, json.dumps(list(images)), trained_at, prompt_id),
        )

    def open_runs(self) -> list[sqlite3.Row]:
        return list(self.db.execute("SELECT * FROM runs WHERE done = 0"))

    def run_prompts(self, run_id: int) -> list[sqlite3.Row]:
        return list(self.db.execute("SELECT * FROM prompts WHERE run_id = ? ORDER BY id", (run_id,)))

    def close_run(self, run_id: int) -> None:
        self.db.execute("UPDATE runs SET done = 1 WHERE id = ?", (run_id,))

    def mark_callback_sent(self, table: str, ids: Iterable[int]) -> None:
        assert table in ("prompts", "tunes")
        self.db.executemany(f"UPDATE {table} SET callback_sent = 1 WHERE id = ?", [(i,) for i in ids])

    def counts(self) -> dict[str, int]:
        return {
            table: int(self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
            for table in ("packs", "tunes", "prompts")
        }


def prompt_row(workspace: str, fields: dict[str, Any], stamp: str) -> dict[str, Any]:
    """The columns of a new prompt (``fields`` as ``records.prompt_fields`` makes them), created at ``stamp``."""
    return {
        "workspace": workspace,
        "tune_id": fields["tune_id"],
        "pack_id": fields.get("pack_id"),
        "base_pack_id": fields.get("base_pack_id"),
        "orig_prompt_id": fields.get("orig_prompt_id"),
        "text": fields["text"],
        "class_name": fields.get("class_name", ""),
        "params": json.dumps(fields.get("params", {}), sort_keys=True),
        "callback": fields.get("callback"),
        "num_images": fields.get("num_images", 1),
        "cost_mc": fields.get("cost_mc", 0),
        "ready_at": fields["ready_at"],
        "started_training_at": stamp,
        "user_error": fields.get("user_error"),
        "run_id": fields.get("run_id"),
        "created_at": stamp,
        "updated_at": stamp,
    }


_TUNE_COLUMNS = frozenset(
    {"title", "name", "branch", "model_type", "base_tune_id", "token", "callback", "id", "workspace"}
)


def _one(cursor: sqlite3.Cursor) -> sqlite3.Row | None:
    row: sqlite3.Row | None = cursor.fetchone()
    return row


def _scope(scope: str | None) -> tuple[list[str], list[Any]]:
    if scope is None:
        return [], []
    return ["workspace = ?"], [scope]
