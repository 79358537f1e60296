"""One model of the architecture, read from template.yaml (after SAM's own transform) or from the
CDK constructs' synthesized templates, so the two definitions can be held equal.

Both are plain CloudFormation once SAM's transform has run (aws-sam-translator, the code `sam
deploy` runs in CloudFormation). Each is then resolved under the same settings: the SAM
parameters' values (defaults, then the setting's) and the props the constructs were synthesized
with. Resources are named by what they are, not by their logical ids (which CDK derives from
construct paths): a function by its binary, a role by the function that runs as it (or its
RoleName), a topic by its display name, a table by the environment variable that names it to the
functions, a queue by what sends to it.

The model holds what parity is about: each function's environment variable names,
memory, timeout, architecture, runtime, reserved concurrency, logging and asynchronous
configuration; what triggers it (event patterns, schedules, topics, with their retries and dead
letters); every IAM statement of every role (with its resources and conditions), trust and
managed policies; the topics' and queues' encryption and the topic policies; the tables' keys,
TTL, recovery, encryption and deletion policies; the event bus policies; the custom resource; the alarms and the dashboard; the outputs.
"""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path

import yaml

from harness.template import ROOT

NO_VALUE = object()
PSEUDO = {"AWS::AccountId", "AWS::Region", "AWS::Partition", "AWS::StackName", "AWS::URLSuffix", "AWS::StackId"}


class _CfnLoader(yaml.SafeLoader):
    """CloudFormation's short-form tags in their long form (`!Ref X` is `{"Ref": "X"}`)."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_yaml(path: Path) -> dict:
    return yaml.load(path.read_text(), Loader=_CfnLoader)


def sam_transformed(document: dict) -> dict:
    """A SAM template after SAM's transform, offline: the functions' CodeUri as `sam package`
    leaves it (an S3 URI), no managed policy looked up (the template names none by name)."""
    from samtranslator.translator.transform import transform

    document = copy.deepcopy(document)
    for resource in document["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = f"s3://artifacts/{resource['Properties']['CodeUri']}"

    class _NoManagedPolicies:
        def load(self):
            return {}

    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
    return transform(document, {}, _NoManagedPolicies())


# --- resolving intrinsics under one setting -------------------------------------------------


class Resolver:
    """Evaluates a template's intrinsic functions under given parameter values. A pseudo
    parameter stays `${AWS::Region}`; a resource is `ref(<logical id>)` or `att(<id>.<attr>)`
    until `Model` names it."""

    def __init__(self, template: dict, parameters: dict[str, str]):
        self.template = template
        self.values: dict[str, object] = {}
        for name, p in template.get("Parameters", {}).items():
            if name in parameters:
                value = parameters[name]
            elif "Default" in p:
                value = str(p["Default"])
            else:
                continue
            if p.get("Type") == "CommaDelimitedList":
                value = value.split(",")
            self.values[name] = value
        self.conditions: dict[str, bool] = {}
        for name in template.get("Conditions", {}):
            self.condition(name)

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            self.conditions[name] = bool(self.resolve(self.template["Conditions"][name]))
        return self.conditions[name]

    def _ref(self, name: str):
        if name in self.values:
            return self.values[name]
        if name in PSEUDO:
            return "${" + name + "}"
        if name == "AWS::NoValue":
            return NO_VALUE
        return f"ref({name})"

    def _sub(self, text: str, variables: dict) -> str:
        def one(m: re.Match) -> str:
            name = m.group(1)
            if name in variables:
                value = self.resolve(variables[name])
            elif "." in name:
                value = "att({})".format(name)
            else:
                value = self._ref(name)
            assert isinstance(value, str), f"Fn::Sub of {name}: {value!r}"
            return value

        return re.sub(r"\$\{([^!}][^}]*)\}", one, text)

    def resolve(self, node):
        if isinstance(node, list):
            return [v for v in (self.resolve(n) for n in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::GetAtt":
                attr = arg if isinstance(arg, list) else arg.split(".", 1)
                return f"att({attr[0]}.{attr[1]})"
            if key == "Fn::If":
                name, yes, no = arg
                return self.resolve(yes if self.condition(name) else no)
            if key == "Fn::Equals":
                a, b = self.resolve(arg)
                return a == b
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(a) for a in arg)
            if key == "Fn::Or":
                return any(self.resolve(a) for a in arg)
            if key == "Fn::Join":
                delimiter, values = arg
                values = self.resolve(values)
                assert all(isinstance(v, str) for v in values), f"Fn::Join of {values!r}"
                return delimiter.join(values)
            if key == "Fn::Split":
                delimiter, text = self.resolve(arg)
                return text.split(delimiter)
            if key == "Fn::Select":
                index, values = self.resolve(arg)
                return values[int(index)]
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else arg
                return self._sub(text, variables)
        out = {}
        for k, v in node.items():
            v = self.resolve(v)
            if v is not NO_VALUE:
                out[k] = v
        return out


# --- the model --------------------------------------------------------------------------------

_MARK = re.compile(r"(ref|att)\(([A-Za-z0-9]+)(\.[A-Za-z0-9.]+)?\)")


def _list(value) -> list:
    return value if isinstance(value, list) else [value]


def _statement(s: dict) -> dict:
    # A statement's Sid names it for readers; IAM evaluates the rest (SAM's own grants have none).
    out = {
        "Effect": s.get("Effect"),
        "Action": sorted(a.lower() for a in _list(s.get("Action", []))),
        "Resource": sorted(_list(s.get("Resource", []))),
    }
    if "Principal" in s:
        principal = s["Principal"]
        if principal in ({"AWS": "*"}, {"AWS": ["*"]}):
            principal = "*"  # the same in IAM
        out["Principal"] = principal if isinstance(principal, str) else {
            k: sorted(_list(v)) for k, v in principal.items()
        }
    if "Condition" in s:
        # SAM's Join-then-Split of a list that may be empty leaves an empty element in a
        # condition's values, which matches no request; the constructs build the list itself.
        out["Condition"] = {
            op: {k: sorted(x for x in v if x != "") if isinstance(v, list) else v for k, v in body.items()}
            for op, body in s["Condition"].items()
        }
    return out


def _trust(document: dict) -> list[dict]:
    """A trust policy as one statement per principal: IAM reads a statement naming two
    principals as it reads two statements naming one each."""
    out = []
    for s in _statements(document):
        principal = s.pop("Principal")
        if isinstance(principal, str):
            out.append(s | {"Principal": principal})
        else:
            out += [s | {"Principal": {kind: [p]}} for kind, ps in principal.items() for p in ps]
    return sorted(out, key=json.dumps)


def _statements(document: dict) -> list[dict]:
    return sorted((_statement(s) for s in _list(document.get("Statement", []))), key=json.dumps)


class Model:
    """The architecture a template deploys, under one setting."""

    def __init__(self, template: dict, parameters: dict[str, str] | None = None):
        resolver = Resolver(template, parameters or {})
        self.resources = {
            name: resolver.resolve({k: v for k, v in r.items() if k != "Condition"})
            for name, r in template["Resources"].items()
            if "Condition" not in r or resolver.condition(r["Condition"])
        }
        self.outputs = {
            name: resolver.resolve(o["Value"])
            for name, o in template.get("Outputs", {}).items()
            if "Condition" not in o or resolver.condition(o["Condition"])
        }
        self.names = self._names()

    # naming resources by what they are

    def _of(self, kind: str) -> dict[str, dict]:
        return {n: r for n, r in self.resources.items() if r["Type"] == kind}

    def _names(self) -> dict[str, str]:
        names: dict[str, str] = {}
        functions = self._of("AWS::Lambda::Function")
        for logical, f in functions.items():
            binary = f["Metadata"]["BuildProperties"]["Binary"]
            names[logical] = f"function {binary}"
            props = f["Properties"]
            role = _MARK.fullmatch(props["Role"])
            names[role.group(2)] = f"role of {binary}"
            group = props.get("LoggingConfig", {}).get("LogGroup")
            if group:
                names[_MARK.fullmatch(group).group(2)] = f"logs of {binary}"
            for var, value in props.get("Environment", {}).get("Variables", {}).items():
                m = _MARK.fullmatch(str(value))
                if m and self.resources[m.group(2)]["Type"] == "AWS::DynamoDB::Table":
                    names[m.group(2)] = f"table {var}"
            dead = props.get("DeadLetterConfig", {}).get("TargetArn")
            if dead:
                names[_MARK.fullmatch(dead).group(2)] = f"dead letters of {binary}"
        for config in self._of("AWS::Lambda::EventInvokeConfig").values():
            failure = config["Properties"].get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
            if failure:
                names[_MARK.fullmatch(failure).group(2)] = "failed invocations"
        for logical, topic in self._of("AWS::SNS::Topic").items():
            names[logical] = f"topic {topic['Properties']['DisplayName']}"
        for logical, alarm in self._of("AWS::CloudWatch::Alarm").items():
            names[logical] = f"alarm {alarm['Properties']['AlarmName']}"
        for logical, role in self._of("AWS::IAM::Role").items():
            if "RoleName" in role["Properties"] and logical not in names:
                names[logical] = f"role {role['Properties']['RoleName']}"
        for rule in self._of("AWS::Events::Rule").values():
            for target in rule["Properties"].get("Targets", []):
                if "RoleArn" in target:
                    names[_MARK.fullmatch(target["RoleArn"]).group(2)] = "role of the forwarding rule"
        return names

    def name(self, value):
        """`value` with every resource named as the model names it."""
        if isinstance(value, str):
            def one(m: re.Match) -> str:
                return f"{m.group(1)}({self.names.get(m.group(2), m.group(2))}{m.group(3) or ''})"
            return _MARK.sub(one, value)
        if isinstance(value, list):
            return [self.name(v) for v in value]
        if isinstance(value, dict):
            return {k: self.name(v) for k, v in value.items()}
        return value

    # the model's parts

    def _target_of(self, arn: str) -> str:
        return self.names.get(_MARK.fullmatch(arn).group(2), arn) if _MARK.fullmatch(arn) else arn

    def functions(self) -> dict[str, dict]:
        out = {}
        for logical, f in self._of("AWS::Lambda::Function").items():
            p = f["Properties"]
            logging = dict(p.get("LoggingConfig", {}))
            group = logging.pop("LogGroup", None)
            if group:
                retention = self.resources[_MARK.fullmatch(group).group(2)]["Properties"].get("RetentionInDays")
                logging["RetentionInDays"] = int(retention)  # a Number parameter resolves as text
            out[self.names[logical]] = {
                "Runtime": p.get("Runtime"),
                "Architectures": p.get("Architectures", ["x86_64"]),
                "Handler": p.get("Handler"),
                "MemorySize": p.get("MemorySize", 128),
                "Timeout": p.get("Timeout", 3),
                "ReservedConcurrentExecutions": p.get("ReservedConcurrentExecutions"),
                "Description": p.get("Description"),
                "Environment": sorted(p.get("Environment", {}).get("Variables", {})),
                "LoggingConfig": logging,
                "DeadLetterConfig": self.name(p.get("DeadLetterConfig")),
                "AsyncInvoke": self._async(logical),
                "Triggers": self._triggers(logical),
            }
        return out

    def environment(self) -> dict[str, dict]:
        """Each function's environment, its values named (settings and references)."""
        return {
            self.names[logical]: self.name(f["Properties"].get("Environment", {}).get("Variables", {}))
            for logical, f in self._of("AWS::Lambda::Function").items()
        }

    def _async(self, logical: str):
        for config in self._of("AWS::Lambda::EventInvokeConfig").values():
            p = config["Properties"]
            if p["FunctionName"] == f"ref({logical})":
                # an empty DestinationConfig (SAM's, with retries only) is no destination
                return self.name({k: v for k, v in p.items() if k != "FunctionName" and v != {}})
        return None

    def _triggers(self, logical: str) -> list[dict]:
        arn = f"att({logical}.Arn)"
        out = []
        for rule in self._of("AWS::Events::Rule").values():
            p = rule["Properties"]
            for target in p.get("Targets", []):
                if target["Arn"] != arn:
                    continue
                out.append({
                    "Schedule": p.get("ScheduleExpression"),
                    "EventPattern": p.get("EventPattern"),
                    "State": p.get("State", "ENABLED"),
                    "RetryPolicy": target.get("RetryPolicy"),
                    "DeadLetterConfig": self.name(target.get("DeadLetterConfig")),
                })
        for sub in self._of("AWS::SNS::Subscription").values():
            p = sub["Properties"]
            if p["Endpoint"] == arn:
                out.append({
                    "Topic": self.name(p["TopicArn"]),
                    "Protocol": p["Protocol"],
                    "RedrivePolicy": self.name(p.get("RedrivePolicy")),
                })
        return sorted(out, key=json.dumps)

    def roles(self) -> dict[str, dict]:
        out = {}
        for logical, role in self._of("AWS::IAM::Role").items():
            p = role["Properties"]
            statements = [s for policy in p.get("Policies", []) for s in _statements(policy["PolicyDocument"])]
            for policy in self._of("AWS::IAM::Policy").values():
                if f"ref({logical})" in policy["Properties"].get("Roles", []):
                    statements += _statements(policy["Properties"]["PolicyDocument"])
            out[self.names.get(logical, logical)] = {
                "RoleName": p.get("RoleName"),
                "Trust": _trust(p["AssumeRolePolicyDocument"]),
                "ManagedPolicies": sorted(a.split(":policy/", 1)[1] for a in p.get("ManagedPolicyArns", [])),
                "Statements": sorted(self.name(statements), key=json.dumps),
            }
        return out

    def tables(self) -> dict[str, dict]:
        out = {}
        for logical, t in self._of("AWS::DynamoDB::Table").items():
            p = t["Properties"]
            out[self.names.get(logical, logical)] = {
                "KeySchema": p["KeySchema"],
                "AttributeDefinitions": p["AttributeDefinitions"],
                "BillingMode": p.get("BillingMode"),
                "TimeToLiveSpecification": p.get("TimeToLiveSpecification"),
                "PointInTimeRecoverySpecification": p.get("PointInTimeRecoverySpecification"),
                "SSESpecification": p.get("SSESpecification"),
                "DeletionPolicy": t.get("DeletionPolicy", "Delete"),
                "UpdateReplacePolicy": t.get("UpdateReplacePolicy", "Delete"),
            }
        return out

    def topics(self) -> dict[str, dict]:
        out = {}
        for logical, topic in self._of("AWS::SNS::Topic").items():
            policies = [
                s for policy in self._of("AWS::SNS::TopicPolicy").values()
                if f"ref({logical})" in policy["Properties"]["Topics"]
                for s in _statements(policy["Properties"]["PolicyDocument"])
            ]
            out[self.names[logical]] = {
                "KmsMasterKeyId": topic["Properties"].get("KmsMasterKeyId"),
                "Policy": sorted(self.name(policies), key=json.dumps),
            }
        return out

    def queues(self) -> dict[str, dict]:
        out = {}
        for logical, queue in self._of("AWS::SQS::Queue").items():
            p = queue["Properties"]
            out[self.names.get(logical, logical)] = {
                "MessageRetentionPeriod": p.get("MessageRetentionPeriod"),
                "SqsManagedSseEnabled": p.get("SqsManagedSseEnabled", "KmsMasterKeyId" not in p),
                "KmsMasterKeyId": p.get("KmsMasterKeyId"),
                # A queue's TLS-only statement (its other grants are where CDK and SAM differ in
                # form: SAM's one per queue, CDK's one per rule)
                "TlsOnly": any(
                    s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
                    for policy in self._of("AWS::SQS::QueuePolicy").values()
                    if f"ref({logical})" in policy["Properties"]["Queues"]
                    for s in _statements(policy["Properties"]["PolicyDocument"])
                ),
            }
        return out

    def bus_policies(self) -> list[dict]:
        return sorted(
            (self.name(_statement(p["Properties"]["Statement"]) | {"StatementId": p["Properties"]["StatementId"]})
             for p in self._of("AWS::Events::EventBusPolicy").values()),
            key=json.dumps,
        )

    def custom_resources(self) -> list[dict]:
        return sorted(
            # CloudFormation takes ServiceTimeout as a number or as text
            (self.name({"Type": r["Type"], **r["Properties"], "ServiceTimeout": str(r["Properties"].get("ServiceTimeout"))})
             for r in self.resources.values() if r["Type"].startswith("Custom::")),
            key=json.dumps,
        )

    def forwarding(self) -> list[dict]:
        """Rules that send events to another bus (the spoke's), by their pattern and target."""
        return sorted(
            (self.name({"EventPattern": r["Properties"].get("EventPattern"),
                        "Targets": [{k: v for k, v in t.items() if k != "Id"} for t in r["Properties"]["Targets"]]})
             for r in self._of("AWS::Events::Rule").values()
             if any("RoleArn" in t for t in r["Properties"].get("Targets", []))),
            key=json.dumps,
        )

    def alarms(self) -> dict[str, dict]:
        """The alarms by name: what they watch, when they fire, whom they tell."""
        out = {}
        for alarm in self._of("AWS::CloudWatch::Alarm").values():
            p = alarm["Properties"]
            number = ("Period", "EvaluationPeriods", "Threshold")  # parameters resolve as text
            out[p["AlarmName"]] = self.name({
                k: float(v) if k in number else v
                for k, v in p.items() if k != "AlarmName"
            })
        return out

    def dashboards(self) -> list[dict]:
        """Each dashboard by its name and its body, read as JSON."""
        return sorted(
            (self.name({"DashboardName": d["Properties"].get("DashboardName"),
                        "DashboardBody": json.loads(d["Properties"]["DashboardBody"])})
             for d in self._of("AWS::CloudWatch::Dashboard").values()),
            key=json.dumps,
        )

    def output_values(self, prefix: str = "") -> dict[str, object]:
        """Outputs by name (a construct's outputs carry its id before and a hash after)."""
        out = {}
        for name, value in self.outputs.items():
            m = re.fullmatch(re.escape(prefix) + r"([A-Za-z0-9]+?)([0-9A-F]{8})?", name) if prefix else None
            out[m.group(1) if m else name] = self.name(value)
        return out

    def parts(self, outputs_prefix: str = "") -> dict[str, object]:
        return {
            "functions": self.functions(),
            "environment": self.environment(),
            "roles": self.roles(),
            "tables": self.tables(),
            "topics": self.topics(),
            "queues": self.queues(),
            "event bus policies": self.bus_policies(),
            "custom resources": self.custom_resources(),
            "forwarding rules": self.forwarding(),
            "alarms": self.alarms(),
            "dashboards": self.dashboards(),
            "outputs": self.output_values(outputs_prefix),
        }


def differences(a: object, b: object, path: str = "") -> list[str]:
    """Every place two models differ, one line each, by path."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            here = f"{path}/{k}"
            if k not in a:
                out.append(f"{here}: only in the second: {json.dumps(b[k])[:300]}")
            elif k not in b:
                out.append(f"{here}: only in the first: {json.dumps(a[k])[:300]}")
            else:
                out += differences(a[k], b[k], here)
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]")]
    if a != b:
        return [f"{path}: {json.dumps(a)[:400]} != {json.dumps(b)[:400]}"]
    return []


CDK_OUT = ROOT / "target" / "cdk"
PARITY_CONFIGS = ROOT / "cdk" / "test" / "parity-configs.json"


def parity_configs() -> dict:
    return json.loads(PARITY_CONFIGS.read_text())


def synthesized(kind: str, setting: str) -> dict:
    """The construct's template under a setting, as `make test` synthesizes it (cdk/test/synth-parity.ts)."""
    path = CDK_OUT / "parity" / kind / setting / f"{kind.capitalize()}.template.json"
    if not path.exists():
        raise FileNotFoundError(f"{path}: synthesize the constructs first (`make cdk-synth`, part of `make test`)")
    return json.loads(path.read_text())
