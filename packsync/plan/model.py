"""The plan: typed changes per pack, what would be refused, and how to save and load it.

A plan is data only. ``diff`` makes it, ``planformat`` shows it, ``apply``
carries it out; the JSON form (``schemas/plan.schema.json``) is both the
``--format json`` output and the ``--out`` file that ``apply PLANFILE`` reads.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from packsync import __version__
from packsync.desired.identity import PromptContent
from packsync.errors import PacksyncError
from packsync.packfiles.pack import Params

PLAN_VERSION = 1

# What a change does; the plan file's "kind" is one of these.
ChangeKind = Literal["create", "replace", "remove", "manual"]
CHANGE_KINDS: tuple[ChangeKind, ...] = ("create", "replace", "remove", "manual")


class PlanFileError(PacksyncError, ValueError):
    """A saved plan that cannot be read."""


@dataclass(frozen=True)
class Source:
    """Where in the pack files a change comes from."""

    file: str
    line: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True)
class TemplateSpec(PromptContent):
    """A template to create."""

    class_name: str
    tune_id: int
    key: str
    text: str
    params: Params
    source: Source


@dataclass(frozen=True)
class LiveRef:
    """A live template, as the plan saw it."""

    id: int
    class_name: str
    text: str
    params: Params
    fingerprint: str


@dataclass(frozen=True)
class Change:
    """One change: ``create`` a template, ``replace`` one (create the new, then remove the old),
    ``remove`` one, or a ``manual`` change of a pack field that only the web UI can make."""

    kind: ChangeKind
    create: TemplateSpec | None = None
    remove: LiveRef | None = None
    reason: str = ""  # for removes: "not in the files", "duplicate of #N"
    field: str = ""  # for manual changes
    live_value: Any = None
    desired_value: Any = None
    source: Source | None = None

    @property
    def key(self) -> str:
        return self.create.key if self.create else ""


@dataclass
class PackPlan:
    slug: str
    title: str
    file: str
    live_id: int | None  # None: the pack is to be created
    create_pack: dict[str, Any] | None = None  # the POST /packs body when it is to be created
    changes: list[Change] = field(default_factory=list)
    live_count: int = 0
    desired_count: int = 0
    protect: bool = False
    pack_fingerprint: str = ""  # of every live template the plan read for this pack
    live_fingerprints: dict[int, str] = field(default_factory=dict)  # template id -> fingerprint
    price_per_image_mc: int | None = None  # as seen on live templates of this pack's tunes
    unverified: list[str] = field(default_factory=list)  # parameters set in the files the account does not show
    notes: list[str] = field(default_factory=list)  # what the plan wants the reader to know about this pack

    def of_kind(self, kind: ChangeKind) -> list[Change]:
        return [c for c in self.changes if c.kind == kind]

    @property
    def applicable(self) -> list[Change]:
        return [c for c in self.changes if c.kind != "manual"]

    @property
    def has_changes(self) -> bool:
        return self.create_pack is not None or bool(self.changes)

    @property
    def needs_applying(self) -> bool:
        """Whether apply has anything to do here: the pack to create, or a change it can make."""
        return self.create_pack is not None or bool(self.applicable)

    @property
    def new_images(self) -> int:
        return sum(c.create.images for c in self.changes if c.create is not None)

    @property
    def removals(self) -> list[Change]:
        """Changes that take a template off the pack (replaces included)."""
        return [c for c in self.changes if c.remove is not None]


@dataclass(frozen=True)
class Refusal:
    """A safety limit the plan exceeds; apply refuses it unless ``flag`` is given."""

    rule: str
    pack: str
    message: str
    flag: str


Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class TuneUse:
    """A class of a pack that names a reference tune, and where the file says so."""

    pack: str
    class_name: str
    source: Source


@dataclass(frozen=True)
class Finding:
    """What the reference tune preflight found about one tune (A4): an error stops apply, a
    warning is said once per tune, however many packs and classes use it."""

    severity: Severity
    tune_id: int
    message: str
    uses: tuple[TuneUse, ...]
    expires_at: str | None = None  # as the account wrote it, for expiry findings
    days_left: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "tune_id": self.tune_id,
            "message": self.message,
            "uses": [
                {"pack": u.pack, "class": u.class_name, "source": {"file": u.source.file, "line": u.source.line}}
                for u in self.uses
            ],
            "expires_at": self.expires_at,
            "days_left": self.days_left,
        }


@dataclass
class Plan:
    target: str
    packs: list[PackPlan] = field(default_factory=list)
    # Which account the plan was read from (URL and workspace, never a key); None in a plan file
    # written before it was recorded.
    account: dict[str, str | None] | None = None
    refusals: list[Refusal] = field(default_factory=list)
    undeclared: list[dict[str, Any]] = field(default_factory=list)  # live packs no file declares
    # The reference tune preflight. Read back from a plan file for showing it (``comment``), never
    # for deciding: apply checks the tunes again.
    preflight: list[Finding] = field(default_factory=list)
    on_remove: str = "detach"
    version: int = PLAN_VERSION
    generator: str = f"packsync {__version__}"

    @property
    def changed_packs(self) -> list[PackPlan]:
        return [p for p in self.packs if p.has_changes]

    @property
    def has_changes(self) -> bool:
        return any(p.has_changes for p in self.packs)

    @property
    def preflight_errors(self) -> list[Finding]:
        return [f for f in self.preflight if f.severity == "error"]

    @property
    def has_applicable_changes(self) -> bool:
        return any(p.needs_applying for p in self.packs)

    def count(self, kind: ChangeKind) -> int:
        return sum(len(p.of_kind(kind)) for p in self.packs)

    @property
    def packs_to_create(self) -> int:
        return sum(1 for p in self.packs if p.create_pack is not None)

    @property
    def new_images(self) -> int:
        return sum(p.new_images for p in self.packs)

    @property
    def new_cost_mc(self) -> int | None:
        """Cost of the new templates' images, when every pack's price per image is known."""
        total = 0
        for pack in self.packs:
            if pack.new_images == 0:
                continue
            if pack.price_per_image_mc is None:
                return None
            total += pack.new_images * pack.price_per_image_mc
        return total

    # -- JSON -----------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "generator": self.generator,
            "target": self.target,
            "account": self.account,
            "on_remove": self.on_remove,
            "summary": {
                "packs_to_create": self.packs_to_create,
                "templates_to_create": self.count("create"),
                "templates_to_replace": self.count("replace"),
                "templates_to_remove": self.count("remove"),
                "manual_changes": self.count("manual"),
                "new_images": self.new_images,
                "new_cost_mc": self.new_cost_mc,
                "has_changes": self.has_changes,
            },
            "refusals": [asdict(r) for r in self.refusals],
            "packs": [_pack_json(p) for p in self.packs],
            "undeclared": self.undeclared,
            "preflight": [f.to_json() for f in self.preflight],
        }

    @classmethod
    def from_json(cls, data: Any) -> Plan:
        if not isinstance(data, dict):
            raise PlanFileError("not a packsync plan (expected a JSON object)")
        if data.get("version") != PLAN_VERSION:
            raise PlanFileError(
                f"plan format version {data.get('version')!r} is not supported (expected {PLAN_VERSION})"
            )
        problem = _schema_problem(data)
        if problem:
            raise PlanFileError(f"not a valid packsync plan: {problem}")
        try:
            plan = cls(
                target=str(data["target"]),
                on_remove=str(data.get("on_remove", "detach")),
                undeclared=list(data.get("undeclared", [])),
                generator=str(data.get("generator", "")),
                account=_account_from(data.get("account")),
            )
            plan.refusals = [Refusal(**r) for r in data.get("refusals", [])]
            plan.packs = [_pack_from_json(p) for p in data["packs"]]
            plan.preflight = [_finding_from(f) for f in data.get("preflight", [])]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise PlanFileError(f"not a valid packsync plan: {exc!r}") from None
        return plan

    def save(self, path: Path) -> None:
        """Write atomically: a reader never sees half a plan."""
        from packsync.packfiles.safe_write import atomic_write
        from packsync.term import json_text

        atomic_write(path, json_text(self.to_json()) + "\n")

    @classmethod
    def load(cls, path: Path) -> Plan:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise PlanFileError(f"cannot read {path}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise PlanFileError(f"{path} is not JSON: {exc}") from None
        return cls.from_json(data)


PLAN_SCHEMA = "plan.schema.json"


def _schema_problem(data: Any) -> str:
    """The first way ``data`` breaks the plan schema ("" when it does not), with its place."""
    from packsync.packfiles.schema import SchemaValidator

    validator = SchemaValidator(PLAN_SCHEMA)
    if validator.is_valid(data):
        return ""
    from jsonschema import Draft202012Validator

    errors = sorted(Draft202012Validator(validator.schema).iter_errors(data), key=lambda e: list(e.path))
    if not errors:
        return "it does not match the plan schema"
    first = errors[0]
    where = "/".join(str(p) for p in first.path) or "the top level"
    return f"at {where}: {first.message[:200]}"


def _account_from(data: Any) -> dict[str, str | None] | None:
    if data is None:
        return None
    if not isinstance(data, dict) or set(data) != {"url", "workspace_id"} or not isinstance(data["url"], str):
        raise ValueError("account must be an object with url and workspace_id")
    workspace = data["workspace_id"]
    if workspace is not None and not isinstance(workspace, str):
        raise ValueError("account.workspace_id must be a string or null")
    return {"url": data["url"], "workspace_id": workspace}


def _params_json(params: Params) -> dict[str, Any]:
    return dict(params)


def _params_from(data: Any) -> Params:
    if not isinstance(data, dict):
        raise ValueError("params must be an object")
    from packsync.packfiles.pack import freeze_params

    return freeze_params(data)


def _spec_json(spec: TemplateSpec) -> dict[str, Any]:
    return {
        "class": spec.class_name,
        "tune_id": spec.tune_id,
        "key": spec.key,
        "text": spec.text,
        "params": _params_json(spec.params),
        "source": {"file": spec.source.file, "line": spec.source.line},
    }


def _live_json(ref: LiveRef) -> dict[str, Any]:
    return {
        "id": ref.id,
        "class": ref.class_name,
        "text": ref.text,
        "params": _params_json(ref.params),
        "fingerprint": ref.fingerprint,
    }


def _change_json(change: Change) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": change.kind}
    if change.create is not None:
        out["create"] = _spec_json(change.create)
    if change.remove is not None:
        out["remove"] = _live_json(change.remove)
    if change.reason:
        out["reason"] = change.reason
    if change.kind == "manual":
        out.update({"field": change.field, "live": change.live_value, "desired": change.desired_value})
    if change.source is not None:
        out["source"] = {"file": change.source.file, "line": change.source.line}
    return out


def _pack_json(pack: PackPlan) -> dict[str, Any]:
    return {
        "slug": pack.slug,
        "title": pack.title,
        "file": pack.file,
        "id": pack.live_id,
        "create_pack": pack.create_pack,
        "protect": pack.protect,
        "live_templates": pack.live_count,
        "desired_templates": pack.desired_count,
        "price_per_image_mc": pack.price_per_image_mc,
        "fingerprint": pack.pack_fingerprint,
        "live": {str(k): v for k, v in sorted(pack.live_fingerprints.items())},
        "unverified": pack.unverified,
        "notes": pack.notes,
        "changes": [_change_json(c) for c in pack.changes],
    }


def _source(data: Any) -> Source:
    return Source(str(data["file"]), int(data.get("line", 0)))


def _finding_from(data: dict[str, Any]) -> Finding:
    uses = tuple(TuneUse(str(u["pack"]), str(u["class"]), _source(u["source"])) for u in data["uses"])
    severity: Severity = "error" if data["severity"] == "error" else "warning"
    days = data.get("days_left")
    return Finding(
        severity,
        int(data["tune_id"]),
        str(data["message"]),
        uses,
        None if data.get("expires_at") is None else str(data["expires_at"]),
        None if days is None else int(days),
    )


def _change_from(data: dict[str, Any]) -> Change:
    create = None
    if "create" in data:
        c = data["create"]
        create = TemplateSpec(
            class_name=str(c["class"]),
            tune_id=int(c["tune_id"]),
            key=str(c["key"]),
            text=str(c["text"]),
            params=_params_from(c["params"]),
            source=_source(c["source"]),
        )
    remove = None
    if "remove" in data:
        r = data["remove"]
        remove = LiveRef(
            id=int(r["id"]),
            class_name=str(r["class"]),
            text=str(r["text"]),
            params=_params_from(r["params"]),
            fingerprint=str(r["fingerprint"]),
        )
    kind = next((k for k in CHANGE_KINDS if k == data["kind"]), None)
    if kind is None:
        raise ValueError(f"unknown change kind {data['kind']!r}")
    return Change(
        kind=kind,
        create=create,
        remove=remove,
        reason=str(data.get("reason", "")),
        field=str(data.get("field", "")),
        live_value=data.get("live"),
        desired_value=data.get("desired"),
        source=_source(data["source"]) if "source" in data else None,
    )


def _pack_from_json(data: dict[str, Any]) -> PackPlan:
    return PackPlan(
        slug=str(data["slug"]),
        title=str(data.get("title", "")),
        file=str(data.get("file", "")),
        live_id=None if data.get("id") is None else int(data["id"]),
        create_pack=data.get("create_pack"),
        changes=[_change_from(c) for c in data.get("changes", [])],
        live_count=int(data.get("live_templates", 0)),
        desired_count=int(data.get("desired_templates", 0)),
        protect=bool(data.get("protect", False)),
        pack_fingerprint=str(data.get("fingerprint", "")),
        live_fingerprints={int(k): str(v) for k, v in (data.get("live") or {}).items()},
        price_per_image_mc=data.get("price_per_image_mc"),
        unverified=[str(n) for n in data.get("unverified", [])],
        notes=[str(n) for n in data.get("notes", [])],
    )
