"""Shared VPCs (VPC sharing through AWS RAM), which moto lacks, and DescribeVpcs as AWS answers it.

VPC sharing guide: https://docs.aws.amazon.com/vpc/latest/userguide/vpc-sharing.html —
"the account that owns the VPC (owner) shares one or more subnets with other accounts
(participants)"; "Participants cannot view, modify, or delete resources that belong to other
participants or the VPC owner"; the owner is responsible for "creating, managing, and deleting
the resources associated with a shared VPC" (responsibilities:
https://docs.aws.amazon.com/vpc/latest/userguide/vpc-share-limitations.html).

* Sharing, here a control endpoint in place of RAM's resource shares:
  ``POST /_autopilot/share-vpc {"vpc": "vpc-…", "owner": "<account>", "with": "<account>",
  "region": "us-east-1"}`` (``region`` defaults to the one the owner's VPC is in);
  ``POST /_autopilot/unshare-vpc`` with the same body ends it. Both answer the VPC's current
  participants. The share is kept on the owner's EC2 backend, so ``/moto-api/reset`` ends it.
* DescribeVpcs in a participant account lists the shared VPC with the owner's ``OwnerId``
  (DescribeVpcs "Describes your VPCs. The default is to describe all your VPCs" and ``OwnerId``
  "The ID of the AWS account that owns the VPC";
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeVpcs.html), by id and by
  filter; the filter ``owner-id`` ("The ID of the AWS account that owns the VPC") selects by
  owner, in both directions. The participant sees none of the owner's tags on it: nothing
  documents that the owner's tags reach participants, so code must not rely on them (``tag:``
  filters do not match it there).
* Participants cannot tag the owner's VPC: CreateTags / DeleteTags naming a VPC shared into the
  caller's account are refused whole with ``UnauthorizedOperation`` ("You are not authorized to
  perform this operation", https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html).
* Route 53's AssociateVPCWithHostedZone looks the VPC up in the caller's own account
  (route53_sharing.py), so a participant asking for a shared VPC gets ``InvalidVPCId``, as for
  any VPC it does not own.
* DescribeVpcs with ``VpcIds`` of which any does not exist (for the caller: neither its own nor
  shared into it) fails whole with ``InvalidVpcID.NotFound`` naming the missing ids ("The vpc ID
  'vpc-…' does not exist"; AWS's wording for several ids unverified). moto already failed the
  whole call but named every id given, and counted a repeated id as missing.
"""

from __future__ import annotations

import re

from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models import ec2_backends
from moto.ec2.responses import EC2Response
from moto.ec2.utils import generic_filter

import faults

ACCOUNT = re.compile(r"^\d{12}$")
SHARES = "autopilot_shared_with"  # attribute on the owner's EC2 region backend: vpc id -> {account}


class SharedVpc:
    """A participant's view of the owner's VPC: the VPC as it is, without the owner's tags."""

    def __init__(self, vpc) -> None:
        self._vpc = vpc

    def __getattr__(self, name):
        return getattr(self._vpc, name)

    def get_tags(self) -> list:
        return []

    @property
    def tag_set(self) -> list:
        return []

    @property
    def tag_list(self) -> list:
        return []

    @property
    def tags(self) -> list:
        return []

    def get_filter_value(self, filter_name: str, method_name: str | None = None):
        if filter_name.startswith("tag:"):
            return None
        if filter_name in ("tag-key", "tag-value"):
            return []
        return self._vpc.get_filter_value(filter_name, method_name)


def _region_backends(account: str):
    if account not in ec2_backends:
        return []
    return list(ec2_backends[account].items())


def shared_into(account: str, region: str) -> list:
    """The VPCs of other accounts shared into ``account`` in ``region``."""
    found = []
    for owner in list(ec2_backends.keys()):
        if owner == account:
            continue
        for name, backend in _region_backends(owner):
            if name != region:
                continue
            for vpc_id, participants in list(getattr(backend, SHARES, {}).items()):
                if account in participants and vpc_id in backend.vpcs:
                    found.append(backend.vpcs[vpc_id])
    return found


def _share_target(payload) -> tuple:
    if not isinstance(payload, dict):
        raise faults.RuleError('POST {"vpc": "vpc-…", "owner": "<account>", "with": "<account>"}')
    vpc_id, owner, participant = payload.get("vpc"), payload.get("owner"), payload.get("with")
    unknown = set(payload) - {"vpc", "owner", "with", "region"}
    if unknown:
        raise faults.RuleError(f"unknown keys {sorted(unknown)}; known: vpc, owner, with, region")
    for name, account in (("owner", owner), ("with", participant)):
        if not isinstance(account, str) or not ACCOUNT.match(account):
            raise faults.RuleError(f'"{name}" must be a 12-digit account id, not {account!r}')
    if owner == participant:
        raise faults.RuleError("a VPC is shared with another account than its owner")
    region = payload.get("region")
    for name, backend in _region_backends(owner):
        if (region is None or name == region) and isinstance(vpc_id, str) and vpc_id in backend.vpcs:
            return backend, vpc_id, participant
    raise faults.RuleError(f"no VPC {vpc_id!r} in account {owner}" + (f" in {region}" if region else ""))


def share_vpc(payload) -> dict:
    backend, vpc_id, participant = _share_target(payload)
    if not hasattr(backend, SHARES):
        setattr(backend, SHARES, {})
    participants = getattr(backend, SHARES).setdefault(vpc_id, set())
    participants.add(participant)
    return {"vpc": vpc_id, "region": backend.region_name, "participants": sorted(participants)}


def unshare_vpc(payload) -> dict:
    backend, vpc_id, participant = _share_target(payload)
    participants = getattr(backend, SHARES, {}).get(vpc_id, set())
    participants.discard(participant)
    return {"vpc": vpc_id, "region": backend.region_name, "participants": sorted(participants)}


# --- EC2 responses ------------------------------------------------------------------------------


def describe_vpcs(self) -> ActionResult:
    self.error_on_dryrun()
    vpc_ids = self._get_param("VpcIds", []) or []
    filters = self._filters_from_querystring()
    pool = list(self.ec2_backend.vpcs.values()) + [
        SharedVpc(v) for v in shared_into(self.current_account, self.region)]
    if vpc_ids:
        known = {v.id for v in pool}
        missing = list(dict.fromkeys(i for i in vpc_ids if i not in known))
        if missing:
            if len(missing) == 1:
                raise EC2ClientError("InvalidVpcID.NotFound", f"The vpc ID '{missing[0]}' does not exist")
            raise EC2ClientError("InvalidVpcID.NotFound", f"The vpc IDs '{', '.join(missing)}' do not exist")
        pool = [v for v in pool if v.id in vpc_ids]
    if filters:
        pool = generic_filter(filters, pool)
    return ActionResult({"Vpcs": pool})


def _refuse_shared(self) -> None:
    shared = {v.id for v in shared_into(self.current_account, self.region)}
    own = self.ec2_backend.vpcs
    if any(r in shared and r not in own for r in self._get_param("Resources", []) or []):
        raise EC2ClientError("UnauthorizedOperation", "You are not authorized to perform this operation.")


def install() -> None:
    """Patch moto's EC2 responses and register the control endpoints. Call before the server
    starts, after the other EC2 extensions (it wraps their CreateTags / DeleteTags)."""
    original_create, original_delete = EC2Response.create_tags, EC2Response.delete_tags

    def create_tags(self) -> ActionResult:
        _refuse_shared(self)
        return original_create(self)

    def delete_tags(self) -> ActionResult:
        _refuse_shared(self)
        return original_delete(self)

    EC2Response.create_tags = create_tags
    EC2Response.delete_tags = delete_tags
    EC2Response.describe_vpcs = describe_vpcs
    faults.CONTROLS[("POST", "share-vpc")] = share_vpc
    faults.CONTROLS[("POST", "unshare-vpc")] = unshare_vpc
