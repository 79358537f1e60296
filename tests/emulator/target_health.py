"""Target health as Elastic Load Balancing reports it: states that change with time.

moto reports every registered target ``healthy`` at once and forgets a deregistered one at once.
AWS does neither:

* A new target is ``initial`` until it has passed its health checks. "The load balancer starts
  routing requests to a newly registered target as soon as the registration process completes
  and the targets pass the initial health checks"; "When the health checks exceed
  **HealthyThresholdCount** consecutive successes, the load balancer puts the target back in
  service"; **HealthCheckIntervalSeconds** is "The approximate amount of time, in seconds,
  between health checks of an individual target" (defaults 30 s and 5) — NLB guide, "Health
  checks for Network Load Balancer target groups":
  https://docs.aws.amazon.com/elasticloadbalancing/latest/network/target-group-health-checks.html
  Here a target is ``initial`` (reason ``Elb.RegistrationInProgress``, "Target registration is in
  progress") for HealthCheckIntervalSeconds × HealthyThresholdCount of its target group (as
  moto stores them: the group's own values, else the API reference's defaults — 30 s and 5 for
  TCP, TLS, UDP, TCP_UDP, HTTP and HTTPS groups, 10 s for GENEVE, 35 s for lambda:
  https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html),
  then ``healthy``. The clock starts when the target can be health-checked at all: "Before the
  load balancer sends a health check request to a target, you must register it with a target
  group, specify its target group in a listener rule, and ensure that the Availability Zone of the
  target is enabled for the load balancer" (same page) — so at registration, or later when a
  listener (or rule) starts forwarding to the group, or when the load balancer's subnets come to
  include the target's AZ. "It can take a few minutes for the registration process to complete
  and health checks to start": how long is not documented, so no time is added for it, and AWS's
  other ``initial`` reason, ``Elb.InitialHealthChecking``, is not produced (a caller must take
  both as ``initial``).
* A deregistered target is ``draining`` (``Target.DeregistrationInProgress``, "Target
  deregistration is in progress") for the group's ``deregistration_delay.timeout_seconds``
  attribute ("The range is 0-3600 seconds. The default value is 300 seconds",
  https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetGroupAttribute.html)
  as it was when the target was deregistered (which value counts if the attribute changes while a
  target drains is not documented): "The initial state of a deregistering target is
  draining ... By default, the load balancer changes the state of a deregistering target to unused
  after 300 seconds" (NLB guide, "Edit target group attributes", "Deregistration delay",
  https://docs.aws.amazon.com/elasticloadbalancing/latest/network/edit-target-group-attributes.html#deregistration-delay).
  It stays ``draining`` for the whole delay even without connections: "even though target
  deregistration is complete, the status of the target will be displayed as draining until the
  deregistration delay elapses" (ALB guide, same section,
  https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-target-group-attributes.html#deregistration-delay).
  Then DescribeTargetHealth without ``Targets`` lists it no more (that a target past ``draining``
  leaves the list is not documented, only its ``unused`` state; listing it would let a caller
  count it), and asked for by id it is ``unused`` / ``Target.NotRegistered`` ("Target is not
  registered to the target group"), as any id that is not registered is (moto answered
  ``unavailable`` for ids that are not instance ids). A draining target registered again starts
  over as ``initial`` (not documented; nothing else would be sensible).
* ``unused`` / ``Target.NotInUse`` — "The target group is not used by any load balancer or the
  target is in an Availability Zone that is not enabled for its load balancer" (``TargetHealth``,
  https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetHealth.html),
  with the NLB guide's two descriptions ("Target group is not configured to receive traffic from
  the load balancer", "Target is in an Availability Zone that is not enabled for the load
  balancer"). A group is used when a listener's default action or rule of a load balancer that
  exists forwards to it. The AZ of an ``instance`` target is its instance's; of an ``ip`` target
  the one it was registered with, else its subnet's in the group's VPC, and ``all`` is in every
  enabled AZ. For an ``alb`` target the AZ rule is not applied (the ALB may span several AZs; what
  ELB does when they do not meet the NLB's is not documented).
* ``unused`` / ``Target.InvalidState`` for a stopped instance stays as moto has it ("The target is
  in the stopped or terminated state", ``TargetHealth``; the NLB guide's table also lists "the
  target is in stopped state" under ``unhealthy`` — the API reference's reading is kept, and a
  caller must count neither as healthy). An instance started again must pass its health checks
  again: ``unhealthy`` (``Target.FailedHealthChecks``, "Health checks failed") for interval ×
  healthy threshold from its start, then ``healthy``. An ``alb`` target whose ALB is gone is
  ``unhealthy`` (availability_zones.py).
* ``unavailable`` / ``Target.HealthCheckDisabled`` — "Health checks are disabled for the target
  group" (``TargetHealth``) — only for a group whose health checks are off, which only a
  ``lambda`` group can be: "If the target type is instance, ip, or alb, health checks are always
  enabled and can't be disabled" (``HealthCheckEnabled``, API_CreateTargetGroup). CreateTargetGroup
  and ModifyTargetGroup therefore refuse ``HealthCheckEnabled=false`` for those types
  (``ValidationError``; AWS's wording is not published), and refuse what the reference's ranges
  refuse: HealthCheckIntervalSeconds 5–300, HealthCheckTimeoutSeconds 2–120,
  HealthyThresholdCount and UnhealthyThresholdCount 2–10 (moto took any value).
  ``unavailable`` / ``Elb.InternalError`` (an AWS-side failure) is not produced.
* Not produced, as nothing here makes a health check fail: ``unhealthy`` for a running target
  (``Target.Timeout``, ``Target.ResponseCodeMismatch``, ``Elb.InternalError``),
  ``unhealthy.draining`` (the NLB's grace period for a target that fails its checks), and
  ``unused`` / ``Target.IpUnusable``. A terminated instance is left as moto has it (moved out of
  the group; asked for by id, ``draining``): what AWS shows is not documented beyond the
  ``Target.InvalidState`` description "Target is in the terminated state".

The setting ``target_health_scale`` (``POST /_autopilot/settings``, a number >= 0, default 1.0 =
real time, as AWS is) multiplies both durations, as each period begins (a target already
``initial`` or ``draining`` keeps the end it was given): ``0.01`` turns the default 150 s of
``initial`` into 1.5 s and the 300 s of ``draining`` into 3 s; ``0`` makes a target ``healthy`` as
soon as it can be checked and a deregistered one gone at once (the test harness's default,
tests/harness/emulator.py).
"""

from __future__ import annotations

import functools
import ipaddress
import time

from moto.ec2.models.instances import Instance
from moto.elbv2.exceptions import TargetGroupNotFoundError, ValidationError
from moto.elbv2.models import ELBv2Backend, FakeHealthStatus, FakeTargetGroup, elbv2_backends

import availability_zones
import settings

DEFAULT_DELAY = 300.0
ALWAYS_CHECKED = ("instance", "ip", "alb")
RANGES = {  # (moto's keyword on create, on modify, API name, low, high)
    "interval": ("healthcheck_interval_seconds", "health_check_interval", "HealthCheckIntervalSeconds", 5, 300),
    "timeout": ("healthcheck_timeout_seconds", "health_check_timeout", "HealthCheckTimeoutSeconds", 2, 120),
    "healthy": ("healthy_threshold_count", "healthy_threshold_count", "HealthyThresholdCount", 2, 10),
    "unhealthy": ("unhealthy_threshold_count", "unhealthy_threshold_count", "UnhealthyThresholdCount", 2, 10),
}
DESCRIPTIONS = {
    "Elb.RegistrationInProgress": "Target registration is in progress",
    "Target.DeregistrationInProgress": "Target deregistration is in progress",
    "Target.FailedHealthChecks": "Health checks failed",
    "Target.NotRegistered": "Target is not registered to the target group",
    "Target.HealthCheckDisabled": "Health checks are disabled for the target group",
}
NOT_IN_USE = "Target group is not configured to receive traffic from the load balancer"
ZONE_NOT_ENABLED = "Target is in an Availability Zone that is not enabled for the load balancer"


def scale() -> float:
    return float(settings.get("target_health_scale") or 0.0)


def _state(tg: FakeTargetGroup, name: str) -> dict:
    """Per-target-group records kept on moto's own object (so they go with the group)."""
    return tg.__dict__.setdefault(name, {})


def _status(tg: FakeTargetGroup, target: dict, state: str, reason: str | None = None,
            description: str | None = None) -> FakeHealthStatus:
    status = FakeHealthStatus(target["Id"], target.get("Port", tg.port), tg.health_check_port, state, reason,
                              description if description is not None else DESCRIPTIONS.get(reason or ""))
    status.availability_zone = target.get("AvailabilityZone") if tg.target_type == "ip" else None
    return status


# --- when a target can be health-checked -------------------------------------------------------


def _users(backend: ELBv2Backend) -> dict[str, list]:
    """Target group ARN → the load balancers whose listeners forward to it (one walk of every
    listener rule, so a refresh costs the size of the estate once, not once per group)."""
    users: dict[str, list] = {}
    for lb in backend.load_balancers.values():
        arns = {arn for listener in lb.listeners.values() for rule in listener.rules.values()
                for action in rule.actions for arn in backend._get_target_group_arns_from(action_data=action.data)}
        for arn in arns:
            users.setdefault(arn, []).append(lb)
    return users


def _load_balancers_using(backend: ELBv2Backend, tg: FakeTargetGroup) -> list:
    return _users(backend).get(tg.arn, [])


def _target_zone(backend: ELBv2Backend, tg: FakeTargetGroup, target: dict) -> str | None:
    """The AZ name the target is in; None when it serves every AZ or the rule does not apply."""
    if tg.target_type == "instance":
        instance = backend.ec2_backend.get_instance_by_id(target["Id"])
        return instance._placement.zone if instance is not None else None
    if tg.target_type == "ip":
        zone = target.get("AvailabilityZone")
        if zone:
            return None if zone == "all" else zone
        try:
            ip = ipaddress.ip_address(target["Id"])
        except ValueError:
            return None
        subnet = availability_zones._vpc_subnet_of(backend, tg.vpc_id, ip)
        return subnet.availability_zone if subnet is not None else None
    return None


def _not_in_use(backend: ELBv2Backend, tg: FakeTargetGroup, target: dict, lbs: list | None = None) -> str | None:
    """Why the target cannot be health-checked (a ``Target.NotInUse`` description), or None.
    ``lbs``: the load balancers using the group, when already known."""
    lbs = _load_balancers_using(backend, tg) if lbs is None else lbs
    if not lbs:
        return NOT_IN_USE
    zone = _target_zone(backend, tg, target)
    if zone and not any(zone in {s.availability_zone for s in lb.subnets} for lb in lbs):
        return ZONE_NOT_ENABLED
    return None


def _checks_needed(tg: FakeTargetGroup) -> float:
    """Seconds of health checks before a target is healthy, scaled: interval × healthy threshold."""
    return float(tg.health_check_interval_seconds) * float(tg.healthy_threshold_count) * scale()


def refresh(backend: ELBv2Backend, now: float | None = None) -> None:
    """Note, for every registered target of the backend that can be health-checked, when it will
    have passed its checks (from the moment it could first be checked); forget it for the others."""
    now = time.monotonic() if now is None else now
    users = _users(backend)
    for tg in list(backend.target_groups.values()):
        healthy_at = _state(tg, "_autopilot_healthy_at")
        lbs = users.get(tg.arn, [])
        for target_id, target in tg.targets.items():
            if _not_in_use(backend, tg, target, lbs) is None:
                if target_id not in healthy_at:
                    healthy_at[target_id] = now + _checks_needed(tg)
            else:
                healthy_at.pop(target_id, None)


# --- moto's operations, wrapped ----------------------------------------------------------------


def _refreshing(original):
    @functools.wraps(original)
    def wrapper(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        refresh(self)
        return result

    return wrapper


def _register(original):
    @functools.wraps(original)
    def register_targets(self, target_group_arn: str, instances: list) -> None:
        tg = self.target_groups.get(target_group_arn)
        before = set(tg.targets) if tg is not None else set()
        original(self, target_group_arn, instances)
        for target in instances:
            target_id = str(target.get("Id"))
            if target_id not in before:
                _state(tg, "_autopilot_healthy_at").pop(target_id, None)
                _state(tg, "_autopilot_draining").pop(target_id, None)
        refresh(self)

    return register_targets


def _deregister(original):
    @functools.wraps(original)
    def deregister_targets(self, target_group_arn: str, instances: list) -> None:
        tg = self.target_groups.get(target_group_arn)
        before = {k: dict(v) for k, v in tg.targets.items()} if tg is not None else {}
        try:
            original(self, target_group_arn, instances)
        finally:
            if tg is not None:
                delay = float(tg.attributes.get("deregistration_delay.timeout_seconds", DEFAULT_DELAY))
                until = time.monotonic() + delay * scale()
                for target_id, target in before.items():
                    if target_id not in tg.targets:
                        _state(tg, "_autopilot_draining")[target_id] = {"target": target, "until": until}
                        _state(tg, "_autopilot_healthy_at").pop(target_id, None)

    return deregister_targets


def _describe(original):
    @functools.wraps(original)
    def describe_target_health(self, target_group_arn: str, targets: list) -> list:
        tg = self.target_groups.get(target_group_arn)
        if tg is None:
            raise TargetGroupNotFoundError()
        if targets:
            return original(self, target_group_arn, targets)
        now = time.monotonic()
        listed = list(tg.targets.values())
        listed += [d["target"] for target_id, d in _state(tg, "_autopilot_draining").items()
                   if target_id not in tg.targets and now < d["until"]]
        return [tg.health_for(target, self.ec2_backend) for target in listed]

    return describe_target_health


def _checked(values: dict, create: bool, target_type: str | None) -> None:
    """Refuse health check settings the API reference does not allow."""
    for keyword_create, keyword_modify, name, low, high in RANGES.values():
        value = values.get(keyword_create if create else keyword_modify)
        if value is None:
            continue
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ValidationError(f"The value '{value}' of {name} is not a whole number") from None
        if not low <= number <= high:
            bound = f"greater than or equal to {low}" if number < low else f"less than or equal to {high}"
            raise ValidationError(f"1 validation error detected: Value '{number}' at '{name[0].lower() + name[1:]}' "
                                  f"failed to satisfy constraint: Member must have value {bound}")
    enabled = values.get("healthcheck_enabled" if create else "health_check_enabled")
    if str(enabled).lower() == "false" and (target_type or "instance") in ALWAYS_CHECKED:
        raise ValidationError(f"Health checks cannot be disabled for target groups with target type "
                              f"'{target_type or 'instance'}'")


def _create_group(original):
    @functools.wraps(original)
    def create_target_group(self, name: str, **kwargs):
        _checked(kwargs, True, kwargs.get("target_type"))
        return original(self, name, **kwargs)

    return create_target_group


def _modify_group(original):
    @functools.wraps(original)
    def modify_target_group(self, arn: str, health_check_proto=None, health_check_port=None, health_check_path=None,
                            health_check_interval=None, health_check_timeout=None, healthy_threshold_count=None,
                            unhealthy_threshold_count=None, http_codes=None, health_check_enabled=None):
        tg = self.target_groups.get(arn)
        if tg is None:
            raise TargetGroupNotFoundError()
        _checked({"health_check_interval": health_check_interval, "health_check_timeout": health_check_timeout,
                  "healthy_threshold_count": healthy_threshold_count,
                  "unhealthy_threshold_count": unhealthy_threshold_count,
                  "health_check_enabled": health_check_enabled}, False, tg.target_type)
        return original(self, arn, health_check_proto, health_check_port, health_check_path, health_check_interval,
                        health_check_timeout, healthy_threshold_count, unhealthy_threshold_count, http_codes,
                        health_check_enabled=health_check_enabled)

    return modify_target_group


# --- the health of one target ------------------------------------------------------------------


def _health(inner):
    def health_for(self, target, ec2_backend):
        target_id = str(target["Id"])
        registered = self.targets.get(target_id)
        now = time.monotonic()
        if registered is None:
            draining = _state(self, "_autopilot_draining").get(target_id)
            if draining is not None and now < draining["until"]:
                return _status(self, draining["target"], "draining", "Target.DeregistrationInProgress")
            if target_id in self.terminated_targets:
                return inner(self, target, ec2_backend)  # moto's: not documented further
            return _status(self, {**target, "Id": target_id}, "unused", "Target.NotRegistered")
        backend = elbv2_backends[self.account_id][self.region_name]
        why = _not_in_use(backend, self, registered)
        if why is not None:
            _state(self, "_autopilot_healthy_at").pop(target_id, None)
            return _status(self, registered, "unused", "Target.NotInUse", why)
        if str(self.health_check_enabled).lower() == "false":
            return _status(self, registered, "unavailable", "Target.HealthCheckDisabled")
        status = inner(self, target, ec2_backend)
        if status.status != "healthy":
            return status
        healthy_at = _state(self, "_autopilot_healthy_at").setdefault(target_id, now + _checks_needed(self))
        instance = ec2_backend.get_instance_by_id(target_id) if self.target_type == "instance" else None
        restarted = getattr(instance, "_autopilot_started", None)  # (when, scale then)
        if restarted is not None:
            started, k = restarted
            checks = float(self.health_check_interval_seconds) * float(self.healthy_threshold_count) * k
            if now < started + checks and started + checks > healthy_at:
                return _status(self, registered, "unhealthy", "Target.FailedHealthChecks")
        if now < healthy_at:
            return _status(self, registered, "initial", "Elb.RegistrationInProgress")
        return status

    return health_for


def _start(original):
    @functools.wraps(original)
    def start(self):
        result = original(self)
        self._autopilot_started = (time.monotonic(), scale())
        return result

    return start


def install() -> None:
    """Register ``target_health_scale`` in the settings and wrap moto's ELBv2 model
    (after availability_zones.install(), whose health and registration rules it builds on). Call
    before the server starts."""
    settings.declare("target_health_scale", 1.0)
    FakeTargetGroup.health_for = _health(FakeTargetGroup.health_for)
    ELBv2Backend.register_targets = _register(ELBv2Backend.register_targets)
    ELBv2Backend.deregister_targets = _deregister(ELBv2Backend.deregister_targets)
    ELBv2Backend.describe_target_health = _describe(ELBv2Backend.describe_target_health)
    ELBv2Backend.create_target_group = _create_group(ELBv2Backend.create_target_group)
    ELBv2Backend.modify_target_group = _modify_group(ELBv2Backend.modify_target_group)
    for name in ("create_listener", "modify_listener", "delete_listener", "create_rule", "modify_rule",
                 "delete_rule", "delete_load_balancer", "set_subnets"):
        setattr(ELBv2Backend, name, _refreshing(getattr(ELBv2Backend, name)))
    Instance.start = _start(Instance.start)
