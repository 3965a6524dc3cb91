"""``packsync experiment rotate``: attach the arm a rotation experiment's schedule names for now,
detach the others. Only ``PATCH /prompts/:id`` of ``pack_id``: it creates nothing, so it makes
no image of its own, and it is idempotent (run it every hour; a block changes once a day).

For each class of the pack, the scheduled arm's template is attached first (found on the pack,
or detached on the tune it was created on: ``GET /tunes/:id/prompts``, matched by the plan's own
identity, never a prompt of another pack), then the other arms' are detached, so the pack never
lacks the prompt. Then the pack is read again and every class is checked to hold exactly the
scheduled arm. An arm that is on neither (never applied, or edited since it was detached) is
reported and the class left as it is: ``packsync apply`` creates it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from packsync.astria.client import AstriaClient
from packsync.astria.objects import LiveTemplate, parse_templates
from packsync.desired.expand import Template
from packsync.desired.rotation import arm_at, block_end, rotation_seed
from packsync.desired.state import DesiredPack
from packsync.plan.observe import Observation, match_templates


@dataclass
class RotationStep:
    pack: str
    experiment: str
    class_name: str
    arm: str  # the arm scheduled now
    attached: int | None = None  # the template attached by this run (None: already attached, or not found)
    detached: list[int] = field(default_factory=list)
    problem: str = ""
    until: str = ""  # when the block ends (UTC, ISO)


def _arm_templates(desired: DesiredPack, arms: Sequence[str]) -> dict[str, dict[str, Template]]:
    """class -> arm key -> its desired template."""
    out: dict[str, dict[str, Template]] = {}
    for template in desired.templates:
        if template.key in arms:
            out.setdefault(template.class_name, {})[template.key] = template
    return out


class Rotator:
    def __init__(self, client: AstriaClient, observation: Observation | None, dry_run: bool) -> None:
        self.client, self.seen, self.dry_run = client, observation or Observation(), dry_run
        self._tune_prompts: dict[int, list[LiveTemplate]] = {}

    async def _detached(self, template: Template) -> LiveTemplate | None:
        """A detached prompt on the template's tune that is this template (the plan's matching)."""
        if template.tune_id not in self._tune_prompts:
            answers = [p async for p in self.client.paginate(f"/tunes/{template.tune_id}/prompts")]
            loose = [a for a in answers if a.get("pack_id") is None and a.get("orig_prompt_id") is None]
            self._tune_prompts[template.tune_id] = parse_templates(loose, f"GET /tunes/{template.tune_id}/prompts")
        found = match_templates([template.identity], self._tune_prompts[template.tune_id], self.seen)
        return found.kept.get(0)

    async def rotate_pack(
        self, desired: DesiredPack, pack_id: int, live: Sequence[LiveTemplate], now: datetime
    ) -> list[RotationStep]:
        """Bring each running rotation experiment of the pack to the arm scheduled at ``now``."""
        steps: list[RotationStep] = []
        pack = desired.pack
        for experiment in pack.experiments:
            if experiment.design != "rotation" or experiment.status != "running":
                continue
            seed = rotation_seed(pack.slug, experiment.name)
            arm = experiment.arms[arm_at(seed, len(experiment.arms), now.timestamp())]
            until = datetime.fromtimestamp(block_end(now.timestamp()), tz=now.tzinfo).isoformat()
            for class_name, by_arm in sorted(_arm_templates(desired, experiment.arms).items()):
                step = RotationStep(pack.slug, experiment.name, class_name, arm, until=until)
                steps.append(step)
                await self._rotate_class(step, by_arm, pack_id, live)
        return steps

    async def _rotate_class(
        self, step: RotationStep, by_arm: dict[str, Template], pack_id: int, live: Sequence[LiveTemplate]
    ) -> None:
        keys = sorted(by_arm)
        matched = match_templates([by_arm[k].identity for k in keys], list(live), self.seen)
        on_pack = {keys[i]: t for i, t in matched.kept.items()}
        want = by_arm.get(step.arm)
        if want is None:
            step.problem = f"the arm {step.arm} is not for the class {step.class_name}"
            return
        if step.arm not in on_pack:
            found = await self._detached(want)
            if found is None:
                step.problem = f"{step.arm} ({step.class_name}) is on neither the pack nor its tune: run packsync apply"
                return
            step.attached = found.id
            if not self.dry_run:
                await self.client.set_prompt_pack(found.id, pack_id, base_pack_id=None, orig_prompt_id=None)
        for key, template in sorted(on_pack.items()):
            if key != step.arm:
                step.detached.append(template.id)
                if not self.dry_run:
                    await self.client.set_prompt_pack(template.id, None)

    async def verify(self, steps: list[RotationStep], desired: DesiredPack, pack_id: int) -> None:
        """Read the pack again: each class must hold its scheduled arm and no other."""
        if self.dry_run or not steps:
            return
        live = await self.client.pack_templates(pack_id)
        for step in steps:
            if step.problem:
                continue
            experiment = next(e for e in desired.pack.experiments if e.name == step.experiment)
            by_arm = _arm_templates(desired, experiment.arms).get(step.class_name, {})
            keys = sorted(by_arm)
            matched = match_templates([by_arm[k].identity for k in keys], list(live), self.seen)
            on_pack = sorted(keys[i] for i in matched.kept)
            if on_pack != [step.arm]:
                step.problem = f"after the rotation the pack holds {on_pack or 'no arm'} for {step.class_name}"


def scheduled_arm(pack_slug: str, name: str, arms: Sequence[str], now: datetime) -> str:
    return arms[arm_at(rotation_seed(pack_slug, name), len(arms), now.timestamp())]
