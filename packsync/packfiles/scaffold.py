"""What ``packsync init`` writes into a new repository of pack files, as text.

The files are the ones this README asks a team to copy by hand: the project file (the
embedded sandbox as the default target, so validate, plan and apply work at once; the
production account commented out), one small example pack, the pre-commit hooks, the workflow
calling the reusable one, and the ignore rules. Pinned to this packsync's version.
"""

from __future__ import annotations

from packsync import __version__
from packsync.facts import DEFAULT_URL

DEFAULT_SOURCE = "OWNER/packsync"  # where packsync's repository lives: --source OWNER/NAME
EXAMPLE_SLUG = "example-headshots"
IGNORED = (".packsync/",)
EXAMPLE_PROMPTS = (
    (
        "studio-grey",
        "corporate headshot of {{subject}}, navy blazer, mottled grey studio backdrop, soft key light, "
        "85mm lens at f/4, sharp focus on the eyes",
    ),
    (
        "window-light",
        "natural headshot of {{subject}} beside a large office window, soft daylight from the side, "
        "blurred bookshelves behind, 85mm lens at f/2.8",
    ),
    (
        "city-outdoor",
        "outdoor portrait of {{subject}} on a city street at golden hour, smart casual clothes, "
        "buildings softly blurred, 135mm lens at f/2.8",
    ),
)  # state, the embedded sandbox's database, preview sheets


def project_file(from_account: bool = False, url: str = DEFAULT_URL, key_env: str = "ASTRIA_API_KEY") -> str:
    """``packsync.yaml``: the embedded sandbox, and the production account (active with
    ``from_account``, else commented out until the team has a key)."""
    production = (
        f"  production:\n    url: {url}\n    key_env: {key_env}      # the environment variable with the API key\n"
    )
    if not from_account:
        production = "".join(f"  # {line[2:]}\n" for line in production.splitlines())
    return (
        "# yaml-language-server: $schema=schemas/packsync.schema.json\n"
        "# Where the pack files are, which Astria accounts they sync to, and the safety policy.\n"
        "packs_dir: packs\n"
        f"default_target: {'production' if from_account else 'sandbox'}\n"
        "targets:\n"
        "  sandbox:\n"
        "    url: sandbox            # the embedded local sandbox: free, offline, no key needed\n"
        f"{production}"
        "policy:\n"
        "  max_remove_share: 0.3     # refuse a plan that takes off more than 30% of a pack's templates\n"
    )


def example_pack(header: str = "# yaml-language-server: $schema=../schemas/pack.schema.json") -> str:
    """A small pack that validates and applies as it is (the sandbox makes any tune id);
    ``header``: the line that points editors at the schema."""
    return f"""{header}
# An example pack: set the classes' tune_id to your own reference tunes, then make the prompts yours.
slug: {EXAMPLE_SLUG}
title: Example Headshots
subtitle: Studio and window-light headshots
model:
  base_tune_id: 1504944  # Flux1.dev, a base model of Astria's gallery
  model_type: lora
classes:
  man: {{ tune_id: 690204 }}
  woman: {{ tune_id: 690205 }}
defaults:
  num_images: 4
prompts:
""" + "".join(f'  - key: {key}\n    text: "{text}"\n' for key, text in EXAMPLE_PROMPTS)


def precommit_config(source: str = DEFAULT_SOURCE) -> str:
    """``.pre-commit-config.yaml`` with both hooks: from packsync's repository at this version's
    tag when ``source`` is known, else as local hooks that install this version from PyPI."""
    if source != DEFAULT_SOURCE:
        return (
            "# packsync's hooks, pinned to a release tag (or a commit): run `pre-commit install` once.\n"
            "repos:\n"
            f"  - repo: https://github.com/{source}\n"
            f"    rev: v{__version__}\n"
            "    hooks:\n"
            "      - id: packsync-validate\n"
            "      - id: packsync-fmt\n"
        )
    hook = (
        "      - id: packsync-{name}\n"
        "        name: packsync {name}\n"
        "        entry: packsync {name}\n"
        "        language: python\n"
        f'        additional_dependencies: ["packsync=={__version__}"]\n'
        "        files: {files}\n"
        "        require_serial: true\n"
    )
    return (
        "# packsync's hooks, pinned to a release: run `pre-commit install` once.\n"
        "repos:\n"
        "  - repo: local\n"
        "    hooks:\n"
        + hook.format(name="validate", files=r"(^|/)(packs/.*\.ya?ml|packsync\.yaml)$")
        + hook.format(name="fmt", files=r"(^|/)packs/.*\.ya?ml$")
    )


_REPLACE_SOURCE = "; replace OWNER/packsync with where packsync lives"


def workflow(source: str = DEFAULT_SOURCE) -> str:
    """``.github/workflows/packsync.yml``, calling the reusable workflow at this version's tag."""
    return f"""# Pack files as code: a plan on every pull request, apply on merge, a daily drift check,
# and the experiments' rotation and pull requests. Set the repository secret ASTRIA_API_KEY
# and the production target in packsync.yaml{_REPLACE_SOURCE if source == DEFAULT_SOURCE else ""}.
name: packs

on:
  pull_request:
    paths: ["packs/**", "packsync.yaml"]
  push:
    branches: [main]
    paths: ["packs/**", "packsync.yaml"]
  schedule:
    - cron: "17 6 * * *"  # the daily drift check, experiments' rotation and proposals
  workflow_dispatch:

jobs:
  packsync:
    uses: {source}/.github/workflows/packsync.yml@v{__version__}
    with:
      target: production
      packsync: "packsync=={__version__}"
    secrets:
      astria-api-key: ${{{{ secrets.ASTRIA_API_KEY }}}}
    permissions:
      contents: write  # the experiments job's branches; every other job reads only
      pull-requests: write
      issues: write
      actions: read
"""


def gitignore_lines(existing: str) -> list[str]:
    """The ignore rules ``existing`` lacks."""
    have = {line.strip() for line in existing.splitlines()}
    return [rule for rule in IGNORED if rule not in have and rule.rstrip("/") not in have]
