"""The control endpoints (/_sandbox/...): faults, settings, seeding, reset, request logs."""

from __future__ import annotations

from typing import Any

from packsync.sandbox.clock import Clock
from packsync.sandbox.context import IDEMPOTENCY_MODES, ApiError
from packsync.sandbox.faults import FaultConfigError, FaultPlan
from packsync.sandbox.forms import BodyError, decode_body
from packsync.sandbox.httpserver import Request, Response
from packsync.sandbox.params import int_param
from packsync.sandbox.realism import GALLERY, parse_realism
from packsync.sandbox.store import now_iso


class Admin(Clock):
    # -- settings -----------------------------------------------------------

    @property
    def idempotency(self) -> str:
        return self.store.setting("idempotency", "off")

    def set_idempotency(self, mode: str) -> None:
        if mode not in IDEMPOTENCY_MODES:
            raise ValueError(f"idempotency must be one of {', '.join(IDEMPOTENCY_MODES)}")
        self.store.set_setting("idempotency", mode)

    def _admin(self, request: Request, path: str) -> Response:
        name = path[len("/_sandbox/") :]
        try:
            data = decode_body(request.headers.get("content-type", ""), request.body) if request.body else {}
        except BodyError as exc:
            return Response.error(400, str(exc))
        if name == "faults":
            if request.method == "POST":
                try:
                    self.faults = FaultPlan.from_json(data)
                except FaultConfigError as exc:
                    return Response.error(422, str(exc))
            return Response.json(200, self.faults.describe())
        if name == "settings":
            return self._settings(request.method, data)
        if name == "clock":
            return self._clock(request.method, data)
        if name == "reset" and request.method == "POST":
            self.store.reset()
            self.realism_clock.forget()
            self.pending_runs.clear()
            self.gallery_ready = False
            self.request_count.clear()
            self.request_log.clear()
            self.callbacks.clear()
            return Response.json(200, {"ok": True})
        if name == "requests":
            if request.method == "DELETE":
                self.request_count.clear()
                self.request_log.clear()
            total = sum(self.request_count.values())
            return Response.json(
                200, {"total": total, "by_route": dict(self.request_count), "log": list(self.request_log)}
            )
        if name == "callbacks":
            return Response.json(200, list(self.callbacks))
        if name == "seed" and request.method == "POST":
            try:
                created = self.seed(data)
            except ApiError as exc:
                return Response.error(exc.status, str(exc))
            return Response.json(201, created)
        if name == "simulate" and request.method == "POST":
            from packsync.sandbox.simulate import simulate

            try:
                return Response.json(201, simulate(self, request, data))  # type: ignore[arg-type]
            except ApiError as exc:
                return Response.error(exc.status, str(exc))
        if name == "state":
            return Response.json(200, self.store.counts())
        return Response.error(404, f"unknown sandbox endpoint {path}")

    def _settings(self, method: str, data: dict[str, Any]) -> Response:
        if method == "POST":
            try:
                self._change_settings(data)
            except (ValueError, TypeError) as exc:
                return Response.error(422, str(exc))
        return Response.json(
            200,
            {
                "idempotency": self.idempotency,
                "render_delay": self.config.render_delay,
                "train_delay": self.config.train_delay,
                "realism": sorted(self.config.realism),
                "time_scale": self.realism_clock.scale,
                "account_scheduler": self.config.account_scheduler,
                "account_backend_version": self.config.account_backend_version,
                "text_rewrites": [list(pair) for pair in self.config.text_rewrites],
            },
        )

    def _change_settings(self, data: dict[str, Any]) -> None:
        if "idempotency" in data:
            self.set_idempotency(str(data["idempotency"]))
        if "render_delay" in data:
            self.config.render_delay = float(data["render_delay"])
        if "train_delay" in data:
            self.config.train_delay = float(data["train_delay"])
        if "realism" in data:
            # a list or a comma string of behaviour names, "all", or "-NAME" to take one away
            value = data["realism"]
            items = [value] if isinstance(value, str) else [str(v) for v in value or ()]
            self.config.realism = parse_realism(items)
            self.gallery_ready = self.gallery_ready and GALLERY in self.config.realism
        if "time_scale" in data:
            self.realism_clock.set_scale(float(data["time_scale"]))
            self.config.time_scale = self.realism_clock.scale
        if "account_scheduler" in data:
            self.config.account_scheduler = str(data["account_scheduler"])
        if "account_backend_version" in data:
            self.config.account_backend_version = int(data["account_backend_version"])
        if "text_rewrites" in data:
            pairs = data["text_rewrites"] or []
            if not all(
                isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) and x for x in p[:1]) for p in pairs
            ):
                raise ValueError("text_rewrites must be a list of [old, new] strings")
            self.config.text_rewrites = tuple((str(old), str(new)) for old, new in pairs)

    def _clock(self, method: str, data: dict[str, Any]) -> Response:
        """The realistic clock: ``{"advance": seconds}`` moves it on; the delayed actions then due run."""
        if method == "POST" and "advance" in data:
            try:
                self.realism_clock.advance(float(data["advance"]))
            except (ValueError, TypeError) as exc:
                return Response.error(422, str(exc))
            self.settle()
            self.wakeup.set()
        clock = self.realism_clock
        return Response.json(200, {"now": clock.now(), "scale": clock.scale, "pending": clock.pending()})

    def seed(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create reference tunes (with chosen ids) from ``{"tunes": [...]}``; existing ids are kept."""
        tunes = data.get("tunes") or []
        if not isinstance(tunes, list):
            raise ApiError(422, "tunes must be a list")
        created, kept = [], []
        self.store.begin()
        try:
            for spec in tunes:
                if not isinstance(spec, dict) or "name" not in spec:
                    raise ApiError(422, "each seeded tune needs at least a name (its class)")
                tune_id = int_param(spec.get("id"), "id", optional=True)
                workspace = str(spec.get("workspace", ""))
                if tune_id is not None and self.store.tune(None, tune_id) is not None:
                    kept.append(tune_id)
                    continue
                fields = {
                    "title": spec.get("title") or f"reference {spec['name']} {tune_id or ''}".strip(),
                    "name": spec["name"],
                    "branch": spec.get("branch", "flux1"),
                    "model_type": spec.get("model_type", "lora"),
                    "base_tune_id": spec.get("base_tune_id", 1504944),
                    "token": spec.get("token", "ohwx"),
                    "auto_extend": True,
                }
                if spec.get("gallery"):
                    fields["gallery"] = True  # a model of Astria's gallery: faceid templates render on it
                new_id = self.store.insert_tune(workspace, fields, ready_at=0.0, tune_id=tune_id)
                self.store.finish_tune(new_id, now_iso())
                created.append(new_id)
            self.store.commit()
        except Exception:
            self.store.rollback()
            raise
        return {"created": created, "kept": kept}
