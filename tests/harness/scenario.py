"""The PrivateLink world the demo and the end-to-end tests run in, built on the emulator through
the same public APIs a platform team would call."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

from .emulator import PROVIDER, REGION, Emulator

ALLOWED = "111111111111"  # a consumer the policy names
CONSUMER_ROLE = "privatelink-autopilot-reader"  # spoke-template.yaml's ConsumerReadRoleName
STRANGER = "222222222222"  # allowed by the service's principals, not by the policy
FUNCTION = "accept-endpoint-connections"
POLICY_PARAMETER = "/privatelink-autopilot/connection-policy"


@dataclass
class World:
    emu: Emulator
    service_id: str
    service_name: str
    nlb_arn: str
    notification_topic: str
    notification_queue: str
    alert_topic: str
    alert_queue: str
    table: str

    # --- provider side ------------------------------------------------------------------------

    def policy(self, otherwise: str = "reject", **rule) -> dict:
        return {
            "version": 1,
            "services": {
                self.service_id: {
                    "description": "orders API",
                    "allow": [{"name": "orders consumers", "accounts": [ALLOWED], **rule}],
                    "otherwise": otherwise,
                }
            },
        }

    def put_policy(self, document: dict | str) -> None:
        text = document if isinstance(document, str) else json.dumps(document, indent=2)
        self.emu.client("ssm").put_parameter(Name=POLICY_PARAMETER, Value=text, Type="String", Overwrite=True)

    def function_env(self, dry_run: bool = False, policy: dict | str | None = None,
                     consumer_role: bool = False) -> dict[str, str]:
        """The function's configuration, as template.yaml sets it. The policy is read from SSM
        unless given inline; consumers are read through their read role only with
        ``consumer_role`` (template.yaml always sets it; most tests show the events' path)."""
        env = {
            **self.emu.function_env(),
            "ALERT_TOPIC_ARN": self.alert_topic,
            "DECISIONS_TABLE": self.table,
            "DRY_RUN": "true" if dry_run else "false",
            **({"CONSUMER_ROLE_NAME": CONSUMER_ROLE, "HOME_ACCOUNT_ID": PROVIDER} if consumer_role else {}),
        }
        if policy is None:
            env["POLICY_PARAMETER"] = POLICY_PARAMETER
        else:
            env["POLICY_JSON"] = policy if isinstance(policy, str) else json.dumps(policy)
        return env

    def states(self) -> dict[str, str]:
        """Every connection to the service and its state, read back from the emulator."""
        pages = self.emu.client("ec2").get_paginator("describe_vpc_endpoint_connections").paginate(
            Filters=[{"Name": "service-id", "Values": [self.service_id]}]
        )
        return {c["VpcEndpointId"]: c["VpcEndpointState"] for p in pages for c in p["VpcEndpointConnections"]}

    def settled_states(self, timeout: float = 5) -> dict[str, str]:
        """:meth:`states` once no connection is ``pending`` any more (an accepted connection is
        ``pending`` for a while before it is ``available``, as in AWS); fails after ``timeout``
        seconds."""
        deadline = time.monotonic() + timeout
        while True:
            states = self.states()
            if "pending" not in states.values():
                return states
            if time.monotonic() >= deadline:
                raise AssertionError(f"connections still pending after {timeout}s: {states}")
            time.sleep(0.05)

    # --- consumer side ------------------------------------------------------------------------

    def create_endpoint(self, account: str, tags: dict[str, str] | None = None) -> tuple[str, str]:
        """A consumer VPC and an interface endpoint to the service; returns (endpoint id, VPC id)."""
        ec2 = self.emu.client("ec2", account)
        vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24", AvailabilityZone=f"{REGION}a")["Subnet"]["SubnetId"]
        spec = [{"ResourceType": "vpc-endpoint", "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()]}]
        endpoint = ec2.create_vpc_endpoint(
            VpcId=vpc, ServiceName=self.service_name, VpcEndpointType="Interface", SubnetIds=[subnet],
            **({"TagSpecifications": spec} if tags else {}),
        )["VpcEndpoint"]
        return endpoint["VpcEndpointId"], vpc

    def create_endpoints(self, account: str, count: int, service_name: str | None = None) -> list[str]:
        """``count`` interface endpoints of one consumer VPC to the service (or ``service_name``)."""
        ec2 = self.emu.client("ec2", account)
        vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.30.1.0/24", AvailabilityZone=f"{REGION}a")["Subnet"]["SubnetId"]
        return [
            ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=service_name or self.service_name,
                                    VpcEndpointType="Interface", SubnetIds=[subnet])["VpcEndpoint"]["VpcEndpointId"]
            for _ in range(count)
        ]

    # --- what was published -------------------------------------------------------------------

    def connection_notifications(self) -> list[dict]:
        """SNS envelopes the emulator published for connection events since the last call."""
        return drain(self.emu, self.notification_queue)

    def alerts(self) -> list[dict]:
        """Chatbot documents the function published since the last call."""
        return alerts(self.emu, self.alert_queue)


def build(emu: Emulator, notification: bool = True) -> World:
    """Provider account: a VPC with two subnets, an internal NLB, an endpoint service that requires
    acceptance and lets both consumer accounts ask, a connection-notification topic, the alert
    topic, the decisions table and the policy parameter's home. Both topics feed SQS queues so
    what is published can be read back. ``notification=False`` leaves the service's connection
    notification to the caller (the demo has the custom resource make it)."""
    ec2 = emu.client("ec2")
    service, nlb = endpoint_service(emu, "orders", [ALLOWED, STRANGER])
    notification_topic, notification_queue = topic_with_queue(emu, "endpoint-connections")
    alert_topic, alert_queue = topic_with_queue(emu, "privatelink-alerts")
    if notification:
        ec2.create_vpc_endpoint_connection_notification(
            ServiceId=service["ServiceId"], ConnectionNotificationArn=notification_topic,
            ConnectionEvents=["Connect", "Accept", "Reject", "Delete"],
        )
    table = create_table(emu, "privatelink-decisions")
    return World(emu, service["ServiceId"], service["ServiceName"], nlb, notification_topic, notification_queue,
                 alert_topic, alert_queue, table)


def endpoint_service(emu: Emulator, name: str, consumers: list[str]) -> tuple[dict, str]:
    """An internal NLB in a VPC of two subnets and an endpoint service in front of it that requires
    acceptance and lets ``consumers`` ask; returns the service configuration and the NLB's ARN."""
    ec2, elb = emu.client("ec2"), emu.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
        for i, az in ((1, "a"), (2, "b"))
    ]
    nlb = elb.create_load_balancer(Name=name, Subnets=subnets, Type="network", Scheme="internal")["LoadBalancers"][0]["LoadBalancerArn"]
    service = ec2.create_vpc_endpoint_service_configuration(NetworkLoadBalancerArns=[nlb], AcceptanceRequired=True)["ServiceConfiguration"]
    ec2.modify_vpc_endpoint_service_permissions(
        ServiceId=service["ServiceId"], AddAllowedPrincipals=[f"arn:aws:iam::{a}:root" for a in consumers],
    )
    return service, nlb


def topic_with_queue(emu: Emulator, name: str) -> tuple[str, str]:
    sns, sqs = emu.client("sns"), emu.client("sqs")
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "vpce.amazonaws.com"},
                                                       "Action": "SNS:Publish", "Resource": "*"}]}
    topic = sns.create_topic(Name=name, Attributes={"Policy": json.dumps(policy)})["TopicArn"]
    queue = sqs.create_queue(QueueName=f"{name}-tap")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    return topic, queue


def create_table(emu: Emulator, name: str) -> str:
    """A DynamoDB table keyed by the string `pk`, as the template's tables are. One that exists
    is used as it is: the acceptor's and the associator's scenes share the decisions table, as
    the functions do in the stack."""
    dynamodb = emu.client("dynamodb")
    try:
        dynamodb.create_table(
            TableName=name, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        )
    except dynamodb.exceptions.ResourceInUseException:
        pass
    return name


def drain(emu: Emulator, queue_url: str) -> list[dict]:
    """Every SNS envelope an SQS tap has received since the last call."""
    sqs = emu.client("sqs")
    out = []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", []):
        for m in messages:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
    return out


def alerts(emu: Emulator, queue_url: str) -> list[dict]:
    """The Chatbot documents published to the alert topic since the last call."""
    return [json.loads(envelope["Message"]) for envelope in drain(emu, queue_url)]


# --- events, as Lambda delivers them ----------------------------------------------------------


def sns_event(envelope: dict) -> dict:
    """The Lambda SNS event for one SNS message envelope (as an SQS subscription received it)."""
    return {
        "Records": [{
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": f"{envelope['TopicArn']}:{uuid.uuid4()}",
            "Sns": {
                "Type": envelope["Type"],
                "MessageId": envelope["MessageId"],
                "TopicArn": envelope["TopicArn"],
                "Subject": envelope.get("Subject"),
                "Message": envelope["Message"],
                "Timestamp": envelope["Timestamp"],
                "SignatureVersion": envelope.get("SignatureVersion", "1"),
                "Signature": envelope.get("Signature", "EXAMPLE"),
                "SigningCertUrl": envelope.get("SigningCertURL", "https://sns.us-east-1.amazonaws.com/cert.pem"),
                "UnsubscribeUrl": envelope.get("UnsubscribeURL", "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe"),
                "MessageAttributes": envelope.get("MessageAttributes", {}),
            },
        }]
    }


def create_vpc_endpoint_event(account: str, endpoint_id: str, vpc_id: str, service_name: str,
                              tags: dict[str, str] | None = None) -> dict:
    """The consumer's CreateVpcEndpoint CloudTrail event as forwarded to the provider's bus. No
    real sample is published: this follows EC2's wrapped shape (see events/README.md), with the
    endpoint's tag specification when ``tags`` are given."""
    request = {
        "VpcId": vpc_id, "ServiceName": service_name, "VpcEndpointType": "Interface",
        "SubnetId": {"content": "subnet-0123456789abcdef0", "tag": 1},
    }
    if tags:
        request["TagSpecification"] = {"ResourceType": "vpc-endpoint", "tag": 1, "Tag": [
            {"Key": k, "Value": v, "tag": n} for n, (k, v) in enumerate(tags.items(), 1)]}
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.ec2",
        "account": account,
        "time": "2026-11-26T12:00:00Z",
        "region": REGION,
        "resources": [],
        "detail": {
            "eventVersion": "1.09",
            "userIdentity": {"type": "AssumedRole", "accountId": account},
            "eventTime": "2026-11-26T12:00:00Z",
            "eventSource": "ec2.amazonaws.com",
            "eventName": "CreateVpcEndpoint",
            "awsRegion": REGION,
            "requestParameters": {"CreateVpcEndpointRequest": request},
            "responseElements": {"CreateVpcEndpointResponse": {
                "xmlns": "http://ec2.amazonaws.com/doc/2016-11-15/",
                "vpcEndpoint": {"vpcEndpointId": endpoint_id, "vpcId": vpc_id, "serviceName": service_name,
                                "state": "pendingAcceptance", "ownerId": account, "vpcEndpointType": "Interface"},
            }},
            "requestID": str(uuid.uuid4()),
            "eventID": str(uuid.uuid4()),
            "readOnly": False,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": account,
            "eventCategory": "Management",
        },
    }


def tags_event(account: str, endpoint_ids: list[str], tags: dict[str, str], name: str = "CreateTags") -> dict:
    """The consumer's CreateTags (or DeleteTags) on its endpoints, forwarded: EC2's flat shape, as
    in the real sample ``events/real/ec2_CreateTags_on_security_group__eventbridge.json``."""
    event = create_vpc_endpoint_event(account, endpoint_ids[0], "vpc-0", "x")
    event["detail"]["eventName"] = name
    event["detail"]["requestParameters"] = {
        "resourcesSet": {"items": [{"resourceId": e} for e in endpoint_ids]},
        "tagSet": {"items": [{"key": k, "value": v} for k, v in tags.items()]},
    }
    event["detail"]["responseElements"] = {"_return": True}
    return event


def scheduled_event() -> dict:
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
        "account": PROVIDER, "time": "2026-11-26T12:00:00Z", "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{PROVIDER}:rule/privatelink-autopilot-sweep"], "detail": {},
    }
