"""Least privilege, from the code: each function's role grants exactly the AWS operations its
binary can call, and the few grants that are no SDK call of ours are listed here with the reason.

What the code can call is what the linker kept: every SDK operation reachable from `main` leaves a
symbol `aws_sdk_<crate>::operation::<op>::<Op>::orchestrate` in the function's debug binary
(`target/debug/<function>`, built by `make test` before these tests). The crate gives the IAM
prefix, the operation the action; IAM action names are compared case-insensitively, as IAM does.

Two operations are linked into every binary without being calls of ours: aws-config's default
credential chain brings `sts:AssumeRole` (a profile's role chain) and
`sts:AssumeRoleWithWebIdentity` (a web identity token). On Lambda the credentials come from the
environment, so neither is ever made. `sts:AssumeRole` is ours only where the cross-account module
(`autopilot::accounts`) is linked too. The chain's other sources are not SDK operations (instance
metadata and container credentials are plain HTTP). The debug binaries are built in the
workspace's one feature set, where the operator CLI turns on aws-config's `sso` feature: SSO's
operations are then the chain's too (never IAM actions of a Lambda role), and are set aside.

Where a function reaches other accounts it does so through a role of spoke-template.yaml, named by
a parameter of both templates (SpokeRoleName, ConsumerReadRoleName): that role's grants count as
the function's. The same code reads the function's own account with the function's own role
(`AccountConfigs` hands back its own credentials for it), so whatever the assumed role may do, the
function's own role must be able to do as well.

A grant counts whatever its condition (a resource's `Condition`, a branch of `Fn::If`, a
statement's `Condition`): the check is about which actions, not in which deployment.

The check reads template.yaml and spoke-template.yaml themselves, and the CDK constructs'
templates as `make test` synthesizes them (cdk/, under the setting that makes every optional
part: Slack, KMS, trusted accounts and organization), and is shown to catch the loss of each grant
by removing them one at a time from a copy in memory.
"""

from __future__ import annotations

import copy
import re
import subprocess
from dataclasses import dataclass
from functools import lru_cache

import pytest

from harness.architecture import load_yaml, synthesized
from harness.lambda_host import binary
from harness.template import ROOT


def load(name: str) -> dict:
    """A template with CloudFormation's short-form tags in their long form (`!Ref X` is
    `{"Ref": "X"}`), so a grant's role, condition and role name can be followed."""
    return load_yaml(ROOT / name)


HUB = load("template.yaml")
SPOKE = load("spoke-template.yaml")


def templates(source: str) -> tuple[dict, dict]:
    """The hub's and the spoke's templates: the SAM templates, or the constructs' synthesized
    ones (read when a test asks for them, so the SAM checks run without a synth)."""
    if source == "template.yaml":
        return HUB, SPOKE
    return synthesized("hub", "everything"), synthesized("spoke", "everything")


SOURCES = ["template.yaml", "construct"]

# The IAM prefix of each SDK crate the functions use (the crate's name where they are the same).
IAM_PREFIX = {
    "dynamodb": "dynamodb",
    "ec2": "ec2",
    "elasticloadbalancingv2": "elasticloadbalancing",
    "route53": "route53",
    "route53resolver": "route53resolver",
    "secretsmanager": "secretsmanager",
    "sns": "sns",
    "sqs": "sqs",
    "ssm": "ssm",
    "sts": "sts",
    "sso": "sso",
    "ssooidc": "sso-oauth",
}
# Operations authorized by an IAM action of another name. "sns:Publish — Grants permission to both
# publish and publish batch to a topic" (Amazon SNS API permissions: actions and resources
# reference, https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-language-api-permissions-reference.html).
ACTION_OF = {"sns:PublishBatch": "sns:Publish"}
# The default credential chain's own operations: linked in, never called by our code on Lambda.
CREDENTIAL_CHAIN = {"sts:AssumeRoleWithWebIdentity", "sso:GetRoleCredentials", "sso-oauth:CreateToken"}
SYMBOL = re.compile(r"aws_sdk_([a-z0-9]+)::operation::[a-z0-9_]+::([A-Za-z0-9]+)::orchestrate")
CROSS_ACCOUNT_MODULE = "autopilot::accounts::"

# Granted, but no SDK call of the function's code: who makes the call instead.
ON_FAILURE = (
    "Lambda delivers a failed asynchronous invocation to FailedInvocations (EventInvokeConfig "
    "OnFailure) with the function's role"
)
DEAD_LETTERS = (
    "Lambda delivers an asynchronous invocation that failed its retries to the function's "
    "dead-letter queue (DeadLetterQueue) with the function's role"
)
STACK_KEY = (
    "SNS, SQS and DynamoDB call KMS with the caller's credentials on a topic, queue or table "
    "encrypted with the stack's KmsKeyArn"
)
NOT_SDK_CALLS: dict[str, dict[str, str]] = {
    "accept-endpoint-connections": {
        "sqs:SendMessage": ON_FAILURE,
        "kms:GenerateDataKey": STACK_KEY,
        "kms:Decrypt": STACK_KEY,
    },
    "associate-private-zones": {
        "sqs:SendMessage": ON_FAILURE,
        "kms:GenerateDataKey": STACK_KEY,
        "kms:Decrypt": STACK_KEY,
    },
    "audit-availability-zones": {
        "sqs:SendMessage": ON_FAILURE,
        "kms:GenerateDataKey": STACK_KEY,
        "kms:Decrypt": STACK_KEY,
    },
    "notify-slack": {"sqs:SendMessage": DEAD_LETTERS, "kms:GenerateDataKey": STACK_KEY, "kms:Decrypt": STACK_KEY},
    "connection-notifications": {},
}
# Managed policies a role may carry, and why. SAM and CDK attach AWSLambdaBasicExecutionRole to
# the roles they make; the templates' own roles name it.
MANAGED_POLICIES = {
    "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole":
        "logs:CreateLogGroup, logs:CreateLogStream, logs:PutLogEvents: Lambda writes the function's logs with its role",
}
# SAM event sources whose grants SAM adds to the role it makes (this check does not read them).
EVENTS_WITH_GRANTS = {"SQS", "Kinesis", "DynamoDB", "MSK", "MQ", "SelfManagedKafka", "DocumentDB"}

# What the code calls in the other accounts, through the assumed role: the clients made from
# `AccountConfigs` (shared/src/accounts.rs) — `AssumedRoleSpokes` in private_zones/route53.rs,
# `AwsEstate::consumer` in availability_zones/consumers.rs with `az_map` and `subnets`,
# `ConsumerRoles` in endpoint_connections/ec2.rs. A role two functions assume (the consumers'
# read role) grants what either calls there.
IN_OTHER_ACCOUNTS: dict[str, set[str]] = {
    "accept-endpoint-connections": {"ec2:DescribeVpcEndpoints"},
    "associate-private-zones": {
        "ec2:DescribeVpcs",
        "route53:AssociateVPCWithHostedZone",
        "route53resolver:ListResolverRuleAssociations",
        "route53resolver:AssociateResolverRule",
        "route53resolver:DisassociateResolverRule",
    },
    "audit-availability-zones": {
        "ec2:DescribeAvailabilityZones",
        "ec2:DescribeVpcEndpoints",
        "ec2:DescribeSubnets",
    },
}


def functions(hub: dict = HUB) -> dict[str, str]:
    """Each function's binary and its logical id (the constructs mark their functions with the
    same metadata as template.yaml's)."""
    return {
        r["Metadata"]["BuildProperties"]["Binary"]: name
        for name, r in hub["Resources"].items()
        if r.get("Type") in ("AWS::Serverless::Function", "AWS::Lambda::Function")
    }


FUNCTIONS = sorted(functions())


# --- what the code calls ----------------------------------------------------------------------

@lru_cache(maxsize=None)
def _symbols(function: str) -> str:
    try:
        path = binary(function, "debug")
    except FileNotFoundError as e:
        pytest.fail(f"no debug binary to read the calls from ({e}); `make test` builds them first")
    out = subprocess.run(["nm", "-C", str(path)], capture_output=True, text=True, check=True).stdout
    assert "::orchestrate" in out, f"{path}: no SDK operation symbols (stripped?); the check needs a debug build"
    return out


@lru_cache(maxsize=None)
def called(function: str) -> frozenset[str]:
    """The AWS actions the function's code can call, from its binary's symbols."""
    symbols = _symbols(function)
    ops = set()
    for crate, op in SYMBOL.findall(symbols):
        assert crate in IAM_PREFIX, f"{function} links aws-sdk-{crate}: add its IAM prefix to IAM_PREFIX"
        action = f"{IAM_PREFIX[crate]}:{op}"
        ops.add(ACTION_OF.get(action, action))
    ops -= CREDENTIAL_CHAIN
    if CROSS_ACCOUNT_MODULE not in symbols:
        ops.discard("sts:AssumeRole")  # the credential chain's, not ours
    return frozenset(ops)


# --- what the templates grant -----------------------------------------------------------------

def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _text(node) -> str | None:
    """An ARN as text, however it is written (`Fn::Sub` in the SAM templates, `Fn::Join` of
    pseudo parameters in the synthesized ones): `arn:${AWS::Partition}:...`."""
    if isinstance(node, str):
        return node
    if isinstance(node, dict) and set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str):
        return node["Fn::Sub"]
    if isinstance(node, dict) and set(node) == {"Ref"}:
        return "${" + node["Ref"] + "}"
    if isinstance(node, dict) and set(node) == {"Fn::Join"}:
        parts = [_text(p) for p in node["Fn::Join"][1]]
        return None if None in parts else node["Fn::Join"][0].join(parts)
    return None


def _branches(node) -> list:
    """A node with both branches of any Fn::If (a grant under any condition counts); a branch
    that is AWS::NoValue drops out."""
    if isinstance(node, dict) and set(node) == {"Fn::If"}:
        _, yes, no = node["Fn::If"]
        return _branches(yes) + _branches(no)
    if node == {"Ref": "AWS::NoValue"}:
        return []
    return [node]


def _statements(document: dict) -> list[dict]:
    out = []
    for statement in _as_list(document.get("Statement", [])):
        out.extend(_branches(statement))
    return out


@dataclass
class Role:
    """A role's grants: each Allow statement (to read, and to edit in a copy of the template)
    and what the check could not read."""

    name: str
    statements: list[dict]
    unreadable: list[str]

    def actions(self) -> dict[str, str]:
        """Granted actions, by their lower-case name (IAM's comparison), as written."""
        out = {}
        for s in self.statements:
            if s.get("Effect") == "Allow":
                for a in _as_list(s.get("Action", [])):
                    out[a.lower()] = a
        return out


def _attached(hub: dict, role: str) -> list[dict]:
    """Statements of the policy resources attached to `role` (under any condition)."""
    out = []
    for r in hub["Resources"].values():
        kind, props = r.get("Type"), r.get("Properties", {})
        if kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            roles = [b for n in _as_list(props.get("Roles", [])) for b in _branches(n)]
        elif kind == "AWS::IAM::RolePolicy":
            roles = _branches(props.get("RoleName"))
        else:
            continue
        if {"Ref": role} in roles:
            out.extend(_statements(props["PolicyDocument"]))
    return out


def own_role(hub: dict, function: str) -> Role:
    """The function's execution role: the template's AWS::IAM::Role it names, or the one SAM
    makes from its `Policies`; with the policy resources attached to it."""
    logical = functions(hub)[function]
    props = hub["Resources"][logical]["Properties"]
    statements, unreadable = [], []
    for name, event in props.get("Events", {}).items():
        if event.get("Type") in EVENTS_WITH_GRANTS:
            unreadable.append(f"event {name} ({event['Type']}): SAM adds grants this check does not read")
    role = props.get("Role")
    if role is not None:
        if not (isinstance(role, dict) and "Fn::GetAtt" in role):
            return Role(str(role), [], [f"Role {role!r} is not a role of this template"])
        name = role["Fn::GetAtt"][0]
        resource = hub["Resources"][name]["Properties"]
        for policy in resource.get("Policies", []):
            for p in _branches(policy):
                statements.extend(_statements(p["PolicyDocument"]))
        for arn in resource.get("ManagedPolicyArns", []):
            arn = _text(arn) or arn
            if arn not in MANAGED_POLICIES:
                unreadable.append(f"managed policy {arn}")
    else:
        name = f"{logical}Role"  # the role SAM makes for the function
        for policy in _as_list(props.get("Policies", [])):
            for p in _branches(policy):
                if isinstance(p, dict) and "Statement" in p:
                    statements.extend(_statements(p))
                else:
                    unreadable.append(f"policy {p!r} (a managed policy or SAM policy template)")
        # What SAM grants the role it makes for the function's own destinations.
        queues = [props.get("EventInvokeConfig", {}).get("DestinationConfig", {}).get("OnFailure", {}),
                  props.get("DeadLetterQueue", {})]
        for queue in queues:
            if queue.get("Type") == "SQS":
                statements.append({"Effect": "Allow", "Action": "sqs:SendMessage", "BySam": True,
                                   "Resource": queue.get("Destination", queue.get("TargetArn"))})
    statements.extend(_attached(hub, name))
    return Role(name, statements, unreadable)


def assumed_roles(hub: dict, spoke: dict, function: str) -> list[Role]:
    """The spoke-template.yaml roles the function assumes: those named by the parameter in the
    resource of its sts:AssumeRole grants (`arn:…:role/${SpokeRoleName}`)."""
    roles = []
    for s in own_role(hub, function).statements:
        if s.get("Effect") != "Allow" or "sts:assumerole" not in {a.lower() for a in _as_list(s.get("Action", []))}:
            continue
        for resource in _as_list(s.get("Resource", [])):
            # the role's name: a parameter of both templates (`${SpokeRoleName}`), or the name
            # itself where the constructs were given it
            m = re.fullmatch(r"arn:\$\{AWS::Partition\}:iam::\*:role/(\$\{(\w+)\}|[\w+=,.@-]+)", _text(resource) or "")
            if not m:
                roles.append(Role(str(resource), [], [f"AssumeRole on {resource!r}: not a role named by a parameter"]))
                continue
            role_name = {"Ref": m.group(2)} if m.group(2) else m.group(1)
            found = [
                n for n, r in spoke["Resources"].items()
                if r.get("Type") == "AWS::IAM::Role" and r["Properties"].get("RoleName") == role_name
            ]
            if not found:
                roles.append(Role(m.group(1), [], [f"the spoke makes no role named {m.group(1)}"]))
            for n in found:
                if n not in [r.name for r in roles]:
                    statements = [
                        st for p in spoke["Resources"][n]["Properties"].get("Policies", [])
                        for st in _statements(p["PolicyDocument"])
                    ]
                    roles.append(Role(n, statements, []))
    return roles


# --- the check --------------------------------------------------------------------------------

def differences(hub: dict, spoke: dict, function: str) -> list[str]:
    """Every way the function's grants differ from its calls, one line each:
    `<function>: <action>: <direction>`."""
    calls = {a.lower(): a for a in called(function)}
    own = own_role(hub, function)
    assumed = assumed_roles(hub, spoke, function)
    mine = own.actions()
    theirs = {a: w for r in assumed for a, w in r.actions().items()}
    not_sdk = {a.lower(): (a, why) for a, why in NOT_SDK_CALLS[function].items()}
    elsewhere = {a.lower(): a for a in IN_OTHER_ACCOUNTS.get(function, set())}
    # What the other functions assuming one of these roles call through it.
    names = {r.name for r in assumed}
    sharing = {a.lower() for f in FUNCTIONS if f != function
               and names & {r.name for r in assumed_roles(hub, spoke, f)}
               for a in IN_OTHER_ACCOUNTS.get(f, set())}
    out = [f"{function}: cannot check: {u}" for r in [own, *assumed] for u in r.unreadable]

    def say(action: str, why: str):
        out.append(f"{function}: {action}: {why}")

    granted = {**theirs, **mine}
    for a in sorted(calls.keys() - granted.keys() - not_sdk.keys()):
        say(calls[a], f"called, not granted (to {own.name} nor to an assumed role)")
    for a in sorted(granted.keys() - calls.keys() - not_sdk.keys() - (sharing - mine.keys())):
        say(granted[a], "granted, never called by the code (and not listed in NOT_SDK_CALLS)")
    for a in sorted(not_sdk.keys() - mine.keys()):
        say(not_sdk[a][0], f"not granted to {own.name}, which it needs: {not_sdk[a][1]}")
    for a in sorted(not_sdk.keys() & calls.keys()):
        say(not_sdk[a][0], "listed in NOT_SDK_CALLS, but the code calls it: drop it from the list")
    names = "/".join(sorted(names)) or "an assumed role"
    for a in sorted(elsewhere.keys() - calls.keys()):
        say(elsewhere[a], "listed in IN_OTHER_ACCOUNTS, never called by the code")
    for a in sorted((elsewhere.keys() & calls.keys()) - theirs.keys()):
        say(elsewhere[a], f"called in the other accounts, not granted to {names} (spoke-template.yaml)")
    for a in sorted(theirs.keys() - elsewhere.keys() - sharing):
        say(theirs[a], f"granted to {names} (spoke-template.yaml), not called in the other accounts")
    for a in sorted((theirs.keys() & elsewhere.keys()) - mine.keys()):
        say(theirs[a], f"granted to {names}, not to {own.name}: the function's own account is read with its own role")
    return out


def _report(found: list[str]) -> str:
    return "\n".join(["grants and calls differ:", *found])


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_is_granted_exactly_what_its_code_calls(function, source):
    assert NOT_SDK_CALLS.keys() == set(FUNCTIONS), "NOT_SDK_CALLS must name every function"
    hub, spoke = templates(source)
    assert set(functions(hub)) == set(FUNCTIONS)
    found = differences(hub, spoke, function)
    assert not found, _report(found)


def _plain(logical: str) -> str:
    """A spoke construct's resource by its template.yaml name (`SpokeReaderRole1A2B3C4D`: ReaderRole)."""
    return re.sub(r"^Spoke(\w+?)[0-9A-F]{8}$", r"\1", logical)


@pytest.mark.parametrize("source", SOURCES)
def test_cross_account_functions_assume_their_spoke_roles(source):
    # The associator reaches spokes through the spoke role, the auditor and the acceptor
    # consumers through the read role; only they link the cross-account module, and no other
    # function assumes a role.
    hub, spoke = templates(source)
    assumed = {f: [_plain(r.name) for r in assumed_roles(hub, spoke, f)] for f in FUNCTIONS}
    assert assumed == {
        "accept-endpoint-connections": ["ReaderRole"],
        "associate-private-zones": ["SpokeRole"],
        "audit-availability-zones": ["ReaderRole"],
        "connection-notifications": [],
        "notify-slack": [],
    }
    reaching = {f for f in FUNCTIONS if "sts:AssumeRole" in called(f)}
    assert reaching == {f for f, roles in assumed.items() if roles}


def _without(statements: list[dict], action: str) -> None:
    for s in statements:
        kept = [a for a in _as_list(s.get("Action", [])) if a.lower() != action.lower()]
        if len(kept) != len(_as_list(s.get("Action", []))):
            s["Action"] = kept


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_check_reports_each_grant_taken_away(function, source):
    """Each action granted to the function (its own role, then each role it assumes), removed in
    turn from a copy of the parsed templates, is reported by the check."""
    original_hub, original_spoke = templates(source)
    assert not differences(original_hub, original_spoke, function), "the templates must pass before they are mutated"
    missed = []
    # (a grant SAM makes from the function's destinations is not in the template to take away)
    grants = [(None, a) for s in own_role(original_hub, function).statements if not s.get("BySam")
              for a in _as_list(s.get("Action", []))]
    # Of a role it shares, the grants it needs itself (the others are the other function's).
    needs = {a.lower() for a in IN_OTHER_ACCOUNTS.get(function, set())}
    grants += [(r.name, a) for r in assumed_roles(original_hub, original_spoke, function)
               for a in r.actions().values() if a.lower() in needs]
    assert grants, f"{function} is granted nothing"
    for where, action in grants:
        hub, spoke = copy.deepcopy(original_hub), copy.deepcopy(original_spoke)
        if where is None:
            _without(own_role(hub, function).statements, action)
        else:
            _without(next(r for r in assumed_roles(hub, spoke, function) if r.name == where).statements, action)
        found = differences(hub, spoke, function)
        if not any(f": {action.lower()}:" in line.lower() for line in found):
            missed.append(f"{action} taken from {where or 'its own role'}: {found}")
    assert not missed, "the check did not report:\n" + "\n".join(missed)


def _getatts(node) -> set[str]:
    """The logical ids of every `!GetAtt X.Arn` under a node."""
    if isinstance(node, dict):
        if set(node) == {"Fn::GetAtt"}:
            return {node["Fn::GetAtt"][0]}
        return {n for v in node.values() for n in _getatts(v)}
    if isinstance(node, list):
        return {n for v in node for n in _getatts(v)}
    return set()


def test_only_the_functions_that_publish_may_publish_to_the_alert_topic():
    """The alert topic's policy denies sns:Publish to every principal but the roles of the
    functions granted it (and the operators named in AlertPublisherArns): a message there is
    posted to chat as it says, so an account-wide grant would let anyone phish through it."""
    publishers = {own_role(HUB, f).name for f in FUNCTIONS if "sns:publish" in own_role(HUB, f).actions()}
    assert publishers == {"AcceptEndpointConnectionsRole", "AssociatorRole", "AuditorRole"}
    [policy] = [r for r in HUB["Resources"].values()
                if r["Type"] == "AWS::SNS::TopicPolicy" and r["Properties"]["Topics"] == [{"Ref": "AlertTopic"}]]
    [deny] = [s for s in policy["Properties"]["PolicyDocument"]["Statement"]
              if s["Effect"] == "Deny" and "ArnNotEquals" in s.get("Condition", {})]
    assert (deny["Principal"], deny["Action"]) == ("*", "sns:Publish")
    allowed = deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
    assert _getatts(allowed) == publishers
    assert {"Ref": "AlertPublisherArns"} in json_nodes(allowed)


def json_nodes(node) -> list:
    """Every dict and list under a node, itself included."""
    out = [node]
    if isinstance(node, dict):
        out += [n for v in node.values() for n in json_nodes(v)]
    elif isinstance(node, list):
        out += [n for v in node for n in json_nodes(v)]
    return out


def _conditioned(statements: list[dict], action: str) -> list[dict]:
    """The conditions of each Allow statement granting `action`."""
    return [s.get("Condition", {}) for s in statements
            if s.get("Effect") == "Allow" and action.lower() in {a.lower() for a in _as_list(s.get("Action", []))}]


def test_grants_carry_the_conditions_that_narrow_them():
    """What the templates state beyond actions: the cross-account describe grants only in the
    regions the hub serves, the forwarding role only for this account's rules, the decisions and
    notifications only in the stack's region."""
    for role in ("SpokeRole", "ReaderRole"):
        statements = [st for p in SPOKE["Resources"][role]["Properties"]["Policies"]
                      for st in _statements(p["PolicyDocument"])]
        describes = [a for s in statements for a in _as_list(s["Action"]) if a.startswith("ec2:Describe")]
        assert describes, role
        for action in describes:
            for condition in _conditioned(statements, action):
                assert "aws:RequestedRegion" in condition.get("StringEquals", {}), (role, action)
    [trust] = SPOKE["Resources"]["ForwardRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    for function, action in (("accept-endpoint-connections", "ec2:AcceptVpcEndpointConnections"),
                             ("accept-endpoint-connections", "ec2:RejectVpcEndpointConnections"),
                             ("connection-notifications", "ec2:CreateVpcEndpointConnectionNotification")):
        [condition] = _conditioned(own_role(HUB, function).statements, action)
        assert condition["StringEquals"]["aws:RequestedRegion"] == {"Ref": "AWS::Region"}, (function, action)
