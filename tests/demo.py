"""The demo: a provider, an allowed consumer and a stranger on the local emulator, and the
acceptor's binary deciding their connection requests. It checks its own outcome and
exits non-zero if anything differs from what it announces."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import azs, cloudformation, scenario, zones  # noqa: E402
from harness.cloudformation import ResponseSink  # noqa: E402
from harness.emulator import PROVIDER, Emulator  # noqa: E402
from harness.lambda_host import LambdaHost, binary  # noqa: E402
from harness.scenario import ALLOWED, STRANGER, sns_event  # noqa: E402
from harness.slack import SlackStub, render_text, secret_env, violations  # noqa: E402

failures: list[str] = []
# Every SNS message the functions published to an alert topic, as SNS delivered it.
published: list[dict] = []


def step(title: str) -> None:
    print(f"\n== {title}")


def show(text: str, indent: int = 3) -> None:
    print(textwrap.indent(text, " " * indent))


def expect(what: str, actual, wanted) -> None:
    ok = actual == wanted
    print(f"   [{'ok' if ok else 'MISMATCH'}] {what}: {actual}" + ("" if ok else f" (expected {wanted})"))
    if not ok:
        failures.append(what)


def cli(label: str, *args: str, env: dict[str, str], code: int) -> str:
    """The operator CLI (`autopilot`, the functions' engine) on the same emulator: its table,
    and the exit code expected (0 nothing to do, 2 changes pending or findings open)."""
    done = subprocess.run([str(binary("autopilot")), *args], env={"PATH": os.environ.get("PATH", ""), **env},
                          capture_output=True, text=True, timeout=120)
    print(f"\n   $ autopilot {' '.join(args)}")
    show(done.stdout.rstrip(), indent=5)
    expect(f"{label}: exit code", done.returncode, code)
    return done.stdout


def announced(emu: Emulator, queue_url: str) -> list[dict]:
    """The Chatbot documents published since the last call; their envelopes are kept for Slack."""
    envelopes = scenario.drain(emu, queue_url)
    published.extend(envelopes)
    return [json.loads(e["Message"]) for e in envelopes]


def main() -> int:
    step("Starting the local AWS emulator (moto + this project's PrivateLink extension)")
    with Emulator() as emu:
        show(f"listening on {emu.url}")

        step(f"Provider account {PROVIDER}: NLB-backed endpoint service that requires acceptance")
        world = scenario.build(emu, notification=False)
        show(f"endpoint service  {world.service_id} ({world.service_name})")
        show(f"load balancer     {world.nlb_arn}")
        show(f"connection topic  {world.notification_topic}")
        show(f"alerts            {world.alert_topic}")
        if not connection_notifications(emu, world):
            return 1
        policy = world.policy("reject")
        world.put_policy(policy)
        show(f"policy in SSM     {scenario.POLICY_PARAMETER}:")
        show(json.dumps(policy, indent=2), indent=6)

        step("Consumers create interface endpoints to the service")
        allowed, allowed_vpc = world.create_endpoint(ALLOWED)
        stranger, stranger_vpc = world.create_endpoint(STRANGER)
        show(f"account {ALLOWED} (named in the policy)  {allowed} in {allowed_vpc}")
        show(f"account {STRANGER} (a stranger)          {stranger} in {stranger_vpc}")
        expect("states before", world.states(), {allowed: "pendingAcceptance", stranger: "pendingAcceptance"})
        step("Before: what the acceptor would decide (the CLI's preview changes nothing)")
        cli("connections preview", "connections", env=world.function_env(), code=2)

        notes = world.connection_notifications()
        expect("connection notifications (one Connect per endpoint)", len(notes), 2)
        step(f"The emulator published {len(notes)} connection notification(s); the first one:")
        show(json.dumps(json.loads(notes[0]["Message"]), indent=2))

        path = binary(scenario.FUNCTION)
        step(f"Invoking {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path} with it (SNS event, Lambda Runtime API)")
        with LambdaHost(scenario.FUNCTION, world.function_env()) as fn:
            result = fn.invoke(sns_event(notes[0]))
            if not result.ok:
                show(f"the function failed: {result.body}")
                show("\n".join(result.logs))
                return 1
            for o in result.body["outcomes"]:
                c = o["connection"]
                show(f"{o['action']:>6} {c['endpoint_id']}  account {c['owner']}  [{o['status']}]  {o['reason']}")

            step("The notification that went out (SNS, AWS Chatbot custom-notification format)")
            alerts = announced(emu, world.alert_queue)
            for a in alerts:
                show(f"title:       {a['content']['title']}")
                show("description:")
                show(a["content"]["description"], indent=6)
                for s in a["content"]["nextSteps"]:
                    show(f"next step:   {s}")
                show(f"severity:    {a['metadata']['additionalContext']['severity']}")

            step("Final states, read back from the emulator")
            states = world.settled_states()
            for endpoint, state in states.items():
                show(f"{endpoint}  {state}")
            expect("allowed consumer", states.get(allowed), "available")
            expect("stranger", states.get(stranger), "rejected")
            consumer_view = emu.client("ec2", ALLOWED).describe_vpc_endpoints(VpcEndpointIds=[allowed])["VpcEndpoints"][0]["State"]
            expect(f"endpoint state seen by account {ALLOWED}", consumer_view, "available")
            expect("notifications published", len(alerts), 1)
            expect("decisions announced", [a["content"]["title"] for a in alerts], ["PrivateLink connections: 1 accepted, 1 rejected"])

            step("After: nothing left to decide")
            cli("connections after", "connections", env=world.function_env(), code=0)

            step("Replaying the same notification")
            replay = fn.invoke(sns_event(notes[0]))
            expect("decisions on replay", replay.body.get("outcomes"), [])
            expect("notifications on replay", len(announced(emu, world.alert_queue)), 0)
            expect("states after replay", world.states(), states)

    private_dns()
    on_premises()
    availability_zones()
    slack()

    step("Result")
    if failures:
        show(f"FAILED: {', '.join(failures)}")
        return 1
    show("the service's connection notification made by the stack's custom resource;")
    show("one accepted, one rejected, one notification, nothing twice;")
    show("a spoke VPC resolving the hub's private zone, its authorization cleaned up;")
    show("a spoke VPC forwarding the data centre's names, the inbound endpoint's VPC holding every zone;")
    show("a blackholed AZ found, kept quiet while unchanged, and resolved;")
    show("every notification posted to Slack once, the resolution in its finding's thread: as announced")
    return 0


def connection_notifications(emu: Emulator, world: scenario.World) -> bool:
    """The stack's custom resource gives the service its connection notification, as
    CloudFormation would on deploy."""
    step("Deploying: CloudFormation asks the connection-notifications custom resource for the service's notification")
    with ResponseSink() as sink, LambdaHost("connection-notifications", emu.function_env()) as fn:
        properties = {"TopicArn": world.notification_topic, "ServiceIds": [world.service_id], "ConnectionEvents": ["Connect"]}
        result = fn.invoke(cloudformation.request(sink, "Create", properties))
        if not result.ok or not sink.answers:
            show(f"the custom resource failed: {result.body}")
            show("\n".join(result.logs))
            return False
        answer = sink.answers[-1]
        show(f"answered CloudFormation: {answer['Status']}, {answer['Data']}")
    [n] = emu.client("ec2").describe_vpc_endpoint_connection_notifications()["ConnectionNotificationSet"]
    show(f"{n['ConnectionNotificationId']}: {n['ServiceId']} → {n['ConnectionNotificationArn'].split(':')[-1]} on {n['ConnectionEvents']}")
    expect("custom resource answer", answer["Status"], "SUCCESS")
    return True


def private_dns() -> None:
    step("Private DNS: a hub account owns private hosted zones; spoke accounts create VPCs")
    with Emulator() as emu:
        hub = zones.build(emu)
        rules = hub.rules()
        hub.put_rules(rules)
        show(f"hub {zones.HUB}: zones {hub.shared_zone} (internal.example.), {hub.payments_zone} (payments.internal.example., tag share=payments)")
        show(f"zone rules in SSM {zones.RULES_PARAMETER}:")
        show(json.dumps(rules, indent=2), indent=6)

        vpc = hub.create_vpc(zones.SPOKE)
        show(f"spoke {zones.SPOKE} creates {vpc}; its CreateVpc event is forwarded to the hub")
        expect("zones of the new VPC before", hub.zones_of(zones.SPOKE, vpc), set())
        cli("zones preview", "zones", env=hub.function_env(), code=2)

        step(f"Invoking {zones.FUNCTION} with the CreateVpc event")
        with LambdaHost(zones.FUNCTION, hub.function_env()) as fn:
            result = fn.invoke(zones.create_vpc_event(zones.SPOKE, vpc))
            if not result.ok:
                show(f"the function failed: {result.body}")
                show("\n".join(result.logs))
                failures.append("associate-private-zones")
                return
            for o in result.body["outcomes"]:
                show(f"{o['change']:>11} {o['zone_name']} ({o['zone_id']}) with {o['vpc_id']}  [{o['status']}]  {o['reason']}")
            for a in announced(emu, hub.alert_queue):
                show(f"notification: {a['content']['title']}")
                show(a["content"]["description"], indent=6)

            step("Read back from the emulator")
            seen = hub.zones_of(zones.SPOKE, vpc)
            show(f"ListHostedZonesByVPC as the spoke: {sorted(seen)}")
            hub_view = [v["VPCId"] for v in emu.client("route53").get_hosted_zone(Id=hub.shared_zone)["VPCs"]]
            show(f"GetHostedZone {hub.shared_zone} as the hub: VPCs {hub_view}")
            expect("spoke VPC associated with the shared zone", seen, {hub.shared_zone})
            expect("association authorizations left behind", hub.authorizations(), [])
            again = fn.invoke(zones.create_vpc_event(zones.SPOKE, vpc))
            expect("changes when the event is replayed", again.body.get("outcomes"), [])
            # The emulator's default VPCs still lack zones (only the event's VPC was handled): the
            # spoke's VPC is no longer among the changes to make.
            after = cli("zones after", "zones", env=hub.function_env(), code=2)
            expect(f"{vpc} among the changes after", vpc in after, False)


def on_premises() -> None:
    step("On-premises names: the hub's Resolver forwards corp.example to the data centre (a rule shared"
         " through RAM), and the data centre resolves the zones through the hub's inbound endpoint")
    with Emulator() as emu:
        emu.settings(resolver_association_seconds=0)
        hub = zones.build(emu)
        onprem = zones.on_premises(emu)
        rules = hub.rules(
            resolver_rules=[{"name": "corporate", "region": zones.REGION, "rule_ids": [onprem.corp_rule]}],
            on_premises={"inbound_vpcs": [{"account": zones.HUB, "region": zones.REGION, "vpc_id": onprem.inbound_vpc}]})
        hub.put_rules(rules)
        show(f"forwarding rule {onprem.corp_rule} (corp.example → 192.168.0.2), shared with {zones.SPOKE}, {zones.OTHER_SPOKE}")
        show(f"inbound endpoint in {onprem.inbound_vpc} ({', '.join(onprem.inbound_ips)})")
        show("zone rules, with:")
        show(json.dumps({k: rules[k] for k in ("resolver_rules", "on_premises")}, indent=2), indent=6)

        vpc = hub.create_vpc(zones.SPOKE)
        show(f"spoke {zones.SPOKE} creates {vpc}; the inbound endpoint's VPC has no zone yet")
        expect("rules of the new VPC before", onprem.rules_of(zones.SPOKE, vpc), {})
        expect("zones of the inbound endpoint's VPC before", hub.zones_of(zones.HUB, onprem.inbound_vpc), set())
        preview = cli("zones preview (rule associations beside zone associations)", "zones",
                      env=hub.function_env(), code=2)
        expect("the corporate rule among the changes to make", f"{vpc}  {onprem.corp_rule}" in preview, True)
        with LambdaHost(zones.FUNCTION, hub.function_env()) as fn:
            for account, created in ((zones.SPOKE, vpc), (zones.HUB, onprem.inbound_vpc)):
                step(f"Invoking {zones.FUNCTION} with the CreateVpc event of {created}")
                result = fn.invoke(zones.create_vpc_event(account, created))
                if not result.ok:
                    show(f"the function failed: {result.body}")
                    show("\n".join(result.logs))
                    failures.append("associate-private-zones (on-premises)")
                    return
                for o in result.body["outcomes"]:
                    show(f"{o['change']:>11} {o['zone_name']} with {o['vpc_id']}  [{o['status']}]  {o['reason']}")
                for r in result.body["rule_outcomes"]:
                    show(f"{r['change']:>11} {r['rule_id']} with {r['vpc_id']}  [{r['status']}]  {r['reason']}")
                for a in announced(emu, hub.alert_queue):
                    show(f"notification: {a['content']['title']}")

        step("Read back from the emulator")
        expect("zones of the spoke VPC", hub.zones_of(zones.SPOKE, vpc), {hub.shared_zone})
        expect("Resolver rules of the spoke VPC (as the spoke lists them)", onprem.rules_of(zones.SPOKE, vpc),
               {onprem.corp_rule: "COMPLETE"})
        expect("zones of the inbound endpoint's VPC (every managed zone)",
               hub.zones_of(zones.HUB, onprem.inbound_vpc), {hub.shared_zone, hub.payments_zone})


def availability_zones() -> None:
    step("Availability zones: an NLB in two AZs, a healthy target in one only, cross-zone off")
    with Emulator() as emu:
        p = azs.build(emu)
        p.stop("us-east-1b")
        ids = p.zone_ids(PROVIDER)
        show(f"endpoint service {p.service_id} -> {p.nlb}")
        show(f"targets: us-east-1a ({ids['us-east-1a']}) healthy, us-east-1b ({ids['us-east-1b']}) stopped")
        served = [ids[az] for az in p.subnets]
        endpoint = p.consumer_endpoint(azs.CONSUMER, served, served, by_id=True)
        show(f"consumer {azs.CONSUMER}: endpoint {endpoint} in {', '.join(served)}")
        step("Before: the audit as the CLI shows it (read-only), then as the AZ coverage picture")
        cli("audit before", "audit", env=p.env, code=2)
        picture = cli("matrix before", "audit", "--matrix", "--width", "100", env={**p.env, "LANG": "C.UTF-8"}, code=2)
        expect("the blackholed AZ in the picture", any(line.strip().startswith(ids["us-east-1b"]) and "blackhole" in line
                                                       for line in picture.splitlines()), True)
        with LambdaHost(azs.FUNCTION, p.env) as fn:
            def run(label: str, event: dict | None = None) -> dict:
                result = fn.invoke(event or scenario.scheduled_event())
                if not result.ok:
                    failures.append(label)
                    show(f"the function failed: {result.body}")
                    return {"opened": [], "resolved": []}
                for a in announced(emu, p.alert_queue):
                    show(f"notification [{a['metadata']['additionalContext']['severity']}]: {a['content']['title']}")
                    show(a["content"]["description"], indent=6)
                return result.body

            step(f"Invoking {azs.FUNCTION} (schedule)")
            first = run("audit 1")
            expect("opened", [(f["check"], f["severity"]) for f in first["opened"]], [("blackhole", "critical")])
            step("The same audit again: the finding is still open, nothing is announced")
            second = run("audit 2")
            expect("opened / resolved on the second run", (len(second["opened"]), len(second["resolved"])), (0, 0))
            step("Turning cross-zone load balancing on for the target group; its CloudTrail event starts an audit of the service behind it")
            p.target_group_cross_zone("true")
            change = {**scenario.scheduled_event(), "detail-type": "AWS API Call via CloudTrail",
                      "source": "aws.elasticloadbalancing",
                      "detail": {"eventSource": "elasticloadbalancing.amazonaws.com",
                                 "eventName": "ModifyTargetGroupAttributes", "awsRegion": "us-east-1",
                                 "requestParameters": {"targetGroupArn": p.target_group}}}
            third = run("audit 3", change)
            expect("resolved", [r["fingerprint"].split(":")[0] for r in third["resolved"]], ["blackhole"])
            step("After: the CLI finds nothing open")
            cli("audit after", "audit", env=p.env, code=0)


def slack() -> None:
    step("Slack: every notification above, delivered by SNS to notify-slack (bot token, local Slack sink)")
    with Emulator() as emu, SlackStub() as sink:
        table = scenario.create_table(emu, "deliveries")
        channels = "critical=#privatelink-oncall,default=#privatelink"
        show(f"routing: {channels}; the token is read from Secrets Manager at cold start")
        with LambdaHost("notify-slack", secret_env(emu, sink, "bot", table, channels)) as fn:
            for envelope in published:
                result = fn.invoke(sns_event(envelope))
                if not result.ok:
                    failures.append("notify-slack")
                    show(f"the function failed: {result.body}")
                    continue
                [delivery] = result.body["deliveries"]
                where = delivery["channel"] + (f", in the thread of {delivery['thread_ts']}" if delivery["thread_ts"] else "")
                print(f"\n   --- posted to {where} (ts {delivery['ts']})")
                show(render_text(sink.delivered()[-1]), indent=6)
            posted = sink.delivered()
            expect("messages posted (one per notification)", len(posted), len(published))
            expect("Block Kit limits broken", [v for m in posted for v in violations(m)], [])
            finding = next((m for m in posted if m["blocks"][0]["text"]["text"].startswith("🔴")), None)
            resolution = next((m for m in posted if m["blocks"][0]["text"]["text"].startswith("✅")), None)
            opened_ts = next((json.loads(r.answer)["ts"] for r in sink.requests if r.body is finding), None)
            expect("the resolution replies in the finding's thread", bool(resolution) and resolution.get("thread_ts") == opened_ts, True)
            step("The first SNS message delivered again (SNS delivers at least once)")
            again = fn.invoke(sns_event(published[0]))
            expect("outcome", again.body.get("deliveries", [{}])[0].get("outcome"), "duplicate")
            expect("messages posted", len(sink.delivered()), len(published))


if __name__ == "__main__":
    sys.exit(main())
