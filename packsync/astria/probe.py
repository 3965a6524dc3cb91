"""``packsync doctor --probe``: a free ``branch: "fast"`` probe that learns how the account shows
templates back, by writing a few things and reading them back the way plan does (A4, A5, A6).

What it does, in order, each step only when the one before worked:

1. finds this account's fast tune titled :data:`PROBE_TITLE`, or creates one (free mock images);
2. creates a one-off prompt on it with a known set of parameters (:data:`PROBE_PARAMS`) and the
   others left out, reads it back from the tune's listing and teaches an :class:`EchoProfile`;
3. finds this account's pack titled :data:`PROBE_TITLE` (the lowest id), or creates it: packs
   cannot be deleted through the API, so it stays, and later probes reuse it;
4. creates one template in it the same way, reads it back as plan does (``GET /prompts?pack_id=``)
   and teaches the profile again;
5. runs that template on the probe tune (``POST /p/:id/tunes {tune_ids, prompt_ids}``) and keeps
   what the run answered (ids or not).

The prompts it created (the one-off, the template, and the run's clones when the answer names
them) are deleted at the end, whatever happened; the tune and the pack remain.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from packsync.astria.client import AstriaClient
from packsync.astria.doctor import Odd, answered, objects
from packsync.astria.echo import EchoProfile
from packsync.astria.errors import ApiError, AuthError, NotFound
from packsync.facts import GENERATION_PARAMS
from packsync.slug import derive_slug

PROBE_TITLE = "packsync doctor probe"
PROBE_CLASS = "man"
PROBE_TOKEN = "ohwx"
# A fast tune trains at once and its prompts return mock images: any reachable pictures will do.
MOCK_IMAGES = tuple(f"https://sdbooth2-production.s3.amazonaws.com/mock/{n}.jpg" for n in range(1, 5))
# Set on every probe prompt (and a fresh seed each time); the other parameters are left out.
PROBE_PARAMS: dict[str, Any] = {
    "num_images": 2,
    "cfg_scale": 3,
    "steps": 20,
    "super_resolution": True,
    "w": 512,
    "h": 640,
    "style": "Photographic",
}
LEFT_OUT = tuple(n for n in GENERATION_PARAMS if n not in PROBE_PARAMS and n != "seed")

ANNOUNCEMENT = (
    f"--probe: this writes to the account. It finds or creates a free fast (mock) tune titled {PROBE_TITLE!r} "
    "and one prompt on it; it finds or creates the pack titled "
    f"{PROBE_TITLE!r} (packs cannot be deleted through the API: it stays on the account, and later probes "
    "reuse it), adds one template to it and runs that template on the probe tune. The probe prompts it "
    "creates are deleted afterwards; the tune, the pack and any run prompts that appear later remain."
)


@dataclass
class ProbeResult:
    """What the probe did, learned and left behind."""

    profile: EchoProfile = field(default_factory=EchoProfile)
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)  # (sent, read back)
    steps: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    tune_id: int | None = None
    pack: dict[str, Any] | None = None
    pack_created: bool = False
    run_answer: dict[str, Any] | None = None
    created: list[int] = field(default_factory=list)  # prompt ids this probe created
    deleted: list[int] = field(default_factory=list)

    def learn(self, sent: Mapping[str, Any], read: Mapping[str, Any]) -> None:
        self.pairs.append((dict(sent), dict(read)))
        self.profile.learn(sent, read)

    @property
    def left_behind(self) -> list[str]:
        left = []
        if self.tune_id is not None:
            left.append(f"the fast tune #{self.tune_id} ({PROBE_TITLE!r}; DELETE /tunes/{self.tune_id} removes it)")
        if self.pack is not None:
            left.append(
                f"the pack #{self.pack.get('id')} ({PROBE_TITLE!r}): packs cannot be deleted through the API; "
                "later probes reuse it"
            )
        if self.run_answer is not None and not run_ids(self.run_answer):
            left.append("the run's mock prompts on the probe tune, which may appear later (the answer named none)")
        left += [f"prompt #{p} (could not be deleted)" for p in self.created if p not in self.deleted]
        return left

    def to_json(self) -> dict[str, Any]:
        return {
            "tune_id": self.tune_id,
            "pack_id": None if self.pack is None else self.pack.get("id"),
            "pack_slug": None if self.pack is None else self.pack.get("slug"),
            "pack_created": self.pack_created,
            "sent": dict(PROBE_PARAMS),
            "left_out": list(LEFT_OUT),
            "profile": self.profile.to_json(),
            "run_answer": None if self.run_answer is None else sorted(self.run_answer),
            "run_prompt_ids": None if self.run_answer is None else bool(run_ids(self.run_answer)),
            "steps": self.steps,
            "problems": self.problems,
            "deleted": self.deleted,
            "left_behind": self.left_behind,
        }


def run_ids(answer: Mapping[str, Any]) -> list[int]:
    """The prompt ids a pack run's answer names (none on a plain pack, per third-party code)."""
    found = answer.get("prompt_ids")
    return [i for i in found if type(i) is int] if isinstance(found, list) else []


async def probe(client: AstriaClient, owned: Sequence[Mapping[str, Any]] | None) -> ProbeResult:
    """The probe; ``owned`` is every pack this account owns (None: unknown, then no pack is created,
    since it could not be found again)."""
    result = ProbeResult()
    seed = random.SystemRandom().randrange(1, 2**31)  # (text, seed) must not meet an earlier probe's
    try:
        await _probe_steps(client, owned, seed, result)
    except AuthError:
        raise
    except ApiError as exc:
        result.problems.append(f"the account answered {exc}")
    except Odd as exc:
        result.problems.append(str(exc))
    finally:
        for prompt_id in result.created:
            try:
                await client.delete_prompt(prompt_id)
                result.deleted.append(prompt_id)
            except AuthError:
                raise
            except ApiError as exc:
                result.problems.append(f"could not delete prompt #{prompt_id}: {exc}")
    return result


async def _probe_steps(
    client: AstriaClient, owned: Sequence[Mapping[str, Any]] | None, seed: int, result: ProbeResult
) -> None:
    tune_id = await _probe_tune(client, result)
    result.tune_id = tune_id
    sent = {"text": f"{PROBE_TOKEN} {PROBE_CLASS}, {PROBE_TITLE} one-off", **PROBE_PARAMS, "seed": seed}
    made = await _create(client, tune_id, sent, result)
    if made is not None:
        result.learn(sent, await _read_back(client, tune_id, made))
        result.steps.append(f"created prompt #{made} on tune #{tune_id} and read it back")
    if owned is None:
        result.problems.append("the pack list could not be read: no probe pack is looked for or created")
        return
    pack = await _probe_pack(client, owned, tune_id, result)
    if pack is None:
        return
    pack_id = int(pack["id"])
    body = {"text": f"<lora:{tune_id}:1> {PROBE_TOKEN} {PROBE_CLASS}, {PROBE_TITLE} template", "pack_id": pack_id}
    body.update({**PROBE_PARAMS, "seed": seed + 1})
    template = await _create(client, tune_id, body, result)
    if template is None:
        return
    listed = {t["id"]: t for t in await client.pack_templates(pack_id)}.get(template)
    if listed is None:
        result.problems.append(f"template #{template} is not listed in GET /prompts?pack_id={pack_id}")
        return
    result.learn(body, listed)
    result.steps.append(f"created template #{template} in pack #{pack_id} and read it back as plan does")
    answer = await client.run_pack(pack_id, {"tune_ids": [tune_id], "prompt_ids": [template]})
    result.run_answer = answer
    clones = run_ids(answer)
    result.created += [c for c in clones if c not in result.created]
    named = f"prompt ids {clones}" if clones else "no prompt ids"
    result.steps.append(f"ran pack #{pack_id} on tune #{tune_id}: the answer ({answered(answer)}) names {named}")


async def _read_back(client: AstriaClient, tune_id: int, prompt_id: int) -> dict[str, Any]:
    """A one-off prompt as a listing shows it (the tune's newest), else by id: while a pack run on
    the tune is pending, its listing may answer 404 (A6)."""
    try:
        listing = objects(await client.request("GET", f"/tunes/{tune_id}/prompts"), "GET /tunes/:id/prompts")
    except AuthError:
        raise
    except (ApiError, Odd):
        listing = []
    return {p["id"]: p for p in listing}.get(prompt_id) or await client.get_prompt(prompt_id)


async def _create(client: AstriaClient, tune_id: int, body: Mapping[str, Any], result: ProbeResult) -> int | None:
    """A prompt created for the probe: its id, kept for deletion; None when the answer is an earlier prompt."""
    made = await client.create_prompt(tune_id, body)
    pid = made.get("id")
    if type(pid) is not int:
        result.problems.append(f"POST /tunes/{tune_id}/prompts answered {answered(made)}, without an id")
        return None
    if made.get("pack_id") != body.get("pack_id"):
        result.problems.append(f"POST /tunes/{tune_id}/prompts answered an existing prompt #{pid} (Astria's dedup)")
        return None
    result.created.append(pid)
    return pid


async def _probe_tune(client: AstriaClient, result: ProbeResult) -> int:
    """The account's probe tune, reused while it lasts, else a new fast one."""
    listed = await client.request("GET", "/tunes", params={"title": PROBE_TITLE, "limit": 20})
    mine = [t for t in objects(listed, "GET /tunes") if t.get("title") == PROBE_TITLE and t.get("branch") == "fast"]
    for tune in sorted(mine, key=lambda t: -int(t["id"])):
        try:
            await client.get_tune(int(tune["id"]))
        except NotFound:
            continue  # expired
        result.steps.append(f"reused the fast tune #{tune['id']}")
        return int(tune["id"])
    spec = {"title": PROBE_TITLE, "name": PROBE_CLASS, "branch": "fast", "token": PROBE_TOKEN}
    made = await client.create_tune({**spec, "image_urls": list(MOCK_IMAGES)})
    if type(made.get("id")) is not int:
        raise ApiError("POST", "/tunes", None, f"answered {answered(made)}, without an id")
    result.steps.append(f"created the fast tune #{made['id']}")
    return int(made["id"])


async def _probe_pack(
    client: AstriaClient, owned: Sequence[Mapping[str, Any]], tune_id: int, result: ProbeResult
) -> dict[str, Any] | None:
    """The account's probe pack (the lowest id of that title), else a new one; None when none can be made."""
    same = sorted((p for p in owned if p.get("title") == PROBE_TITLE), key=lambda p: int(p["id"]))
    if same:
        result.pack = dict(same[0])
        result.steps.append(f"reused the probe pack #{same[0]['id']}")
        return result.pack
    try:
        made = await client.create_pack(PROBE_TITLE, tune_id, "lora")
    except ApiError as exc:
        if exc.status in (404, 405):
            result.problems.append(f"pack creation is not available on this account ({exc})")
            return None
        raise
    if type(made.get("id")) is not int:
        again = [p for p in await client.list_packs() if p.get("title") == PROBE_TITLE]
        if not again:
            result.problems.append(f"POST /packs answered {answered(made)} and no pack of that title is listed")
            return None
        made = min(again, key=lambda p: int(p["id"]))
    result.pack, result.pack_created = dict(made), True
    slug = made.get("slug")
    result.steps.append(
        f"created the probe pack #{made['id']} (slug {slug!r}"
        + ("" if slug == derive_slug(PROBE_TITLE) else f", not {derive_slug(PROBE_TITLE)!r} as derived")
        + ")"
    )
    return result.pack
