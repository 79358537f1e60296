"""The CDK constructs (cdk/) and the SAM templates define one architecture: under each setting of
cdk/test/parity-configs.json, the hub construct and template.yaml (after SAM's transform), and the
spoke construct and spoke-template.yaml, deploy the same functions, triggers, roles and grants,
tables, topics, queues, bus policies and outputs (harness/architecture.py says what is compared).
A change to one side without the other fails here, with the path of each difference.

The constructs' templates are synthesized by `make test` (`make cdk-synth`) before this runs.
"""

from __future__ import annotations

import copy

import pytest

from harness.architecture import (
    Model,
    differences,
    load_yaml,
    parity_configs,
    sam_transformed,
    synthesized,
)
from harness.template import ROOT

CONFIGS = parity_configs()
HUB_SAM = sam_transformed(load_yaml(ROOT / "template.yaml"))
SPOKE_SAM = load_yaml(ROOT / "spoke-template.yaml")
# The construct's id in the synthesized stacks (cdk/test/synth-parity.ts): its outputs' names
# begin with it.
PREFIX = {"hub": "Hub", "spoke": "Spoke"}


def sam_side(kind: str, setting: str, template: dict | None = None) -> dict:
    template = template if template is not None else (HUB_SAM if kind == "hub" else SPOKE_SAM)
    return Model(template, CONFIGS[kind][setting]["parameters"]).parts()


def cdk_side(kind: str, setting: str, template: dict | None = None) -> dict:
    template = template if template is not None else synthesized(kind, setting)
    return Model(template).parts(outputs_prefix=PREFIX[kind])


SETTINGS = [(kind, setting) for kind in ("hub", "spoke") for setting in CONFIGS[kind]]


@pytest.mark.parametrize("kind,setting", SETTINGS)
def test_the_construct_deploys_what_the_template_deploys(kind, setting):
    found = differences(sam_side(kind, setting), cdk_side(kind, setting))
    assert not found, "\n".join([f"{kind} ({setting}): template (first) and construct (second) differ:", *found])


def test_each_setting_deploys_something_different():
    # The settings are not all alike: each turns on something the defaults leave out, so the
    # comparison covers the conditional parts of the templates (Slack, KMS, trusted accounts).
    hub = {s: sam_side("hub", s) for s in CONFIGS["hub"]}
    assert len(hub["everything"]["functions"]) == 5 and len(hub["defaults"]["functions"]) == 4
    assert hub["everything"]["event bus policies"] and not hub["defaults"]["event bus policies"]
    spoke = {s: sam_side("spoke", s) for s in CONFIGS["spoke"]}
    assert len(spoke["everything"]["roles"]) == 3 and len(spoke["second-region"]["roles"]) == 1


# --- the comparison catches a change on one side only ---------------------------------------


def _function(template: dict, binary: str) -> dict:
    for r in template["Resources"].values():
        if r["Type"] in ("AWS::Lambda::Function", "AWS::Serverless::Function") and \
                r.get("Metadata", {}).get("BuildProperties", {}).get("Binary") == binary:
            return r
    raise KeyError(binary)


def _rule_with(template: dict, event_name: str) -> dict:
    for r in template["Resources"].values():
        if r["Type"] == "AWS::Events::Rule" and event_name in str(r["Properties"].get("EventPattern")):
            return r
    raise KeyError(event_name)


def _statement_with(template: dict, action: str) -> dict:
    for r in template["Resources"].values():
        for doc in [r["Properties"].get("PolicyDocument")] + [
            p["PolicyDocument"] for p in r.get("Properties", {}).get("Policies", []) if isinstance(p, dict)
        ]:
            for s in (doc or {}).get("Statement", []):
                if isinstance(s, dict) and action in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]]):
                    return s
    raise KeyError(action)


def _drop_action(template: dict) -> None:
    s = _statement_with(template, "route53:GetHostedZoneLimit")
    s["Action"] = [a for a in s["Action"] if a != "route53:GetHostedZoneLimit"]


def _rename_variable(template: dict) -> None:
    variables = _function(template, "audit-availability-zones")["Properties"]["Environment"]["Variables"]
    variables["AUDIT_RATE"] = variables.pop("AUDIT_RATE_SHARE")


def _widen_pattern(template: dict) -> None:
    pattern = _rule_with(template, "ModifyTargetGroupAttributes")["Properties"]["EventPattern"]
    pattern["detail"]["eventName"].append("CreateLoadBalancer")


MUTATIONS = {"an IAM action": _drop_action, "an environment variable": _rename_variable, "an event pattern": _widen_pattern}


@pytest.mark.parametrize("change", MUTATIONS)
@pytest.mark.parametrize("side", ["template.yaml", "construct"])
def test_a_change_on_one_side_only_is_a_difference(change, side):
    if side == "template.yaml":
        changed = copy.deepcopy(HUB_SAM)
        MUTATIONS[change](changed)
        found = differences(sam_side("hub", "everything", changed), cdk_side("hub", "everything"))
    else:
        changed = copy.deepcopy(synthesized("hub", "everything"))
        MUTATIONS[change](changed)
        found = differences(sam_side("hub", "everything"), cdk_side("hub", "everything", changed))
    assert found, f"{change} changed in the {side} only went unnoticed"
