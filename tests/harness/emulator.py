"""The local AWS emulator: moto's server plus ``tests/emulator``, one process per instance.

Each instance is its own server on its own port, so tests running in parallel never see each
other's state. If the server cannot start, :class:`EmulatorError` says why; nothing is skipped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import boto3
from botocore.config import Config

REGION = "us-east-1"
PROVIDER = "123456789012"  # moto's default account: requests signed with plain keys land here
SERVER = Path(__file__).resolve().parent.parent / "emulator" / "server.py"
START_TIMEOUT = 60


class EmulatorError(RuntimeError):
    pass


class Emulator:
    def __init__(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "MOTO_ACCOUNT_ID"}
        try:
            self.process = subprocess.Popen(
                [sys.executable, str(SERVER)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
        except OSError as e:
            raise EmulatorError(f"could not run the emulator ({sys.executable} {SERVER}): {e}") from e
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(START_TIMEOUT)
        if not line or not line[0].startswith("READY "):
            self.process.kill()
            _, err = self.process.communicate(timeout=10)
            hint = "is moto[server] installed? run `make venv`" if "No module named" in err else ""
            raise EmulatorError(f"the emulator did not start within {START_TIMEOUT}s {hint}\n{err[-3000:]}")
        self.url = line[0].split()[1]
        # Drain stderr so the server never blocks on a full pipe.
        threading.Thread(target=self.process.stderr.read, daemon=True).start()
        self._credentials = {PROVIDER: ("testing", "testing", None)}

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def __enter__(self) -> "Emulator":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def credentials(self, account: str) -> tuple[str, str, str | None]:
        """Credentials for ``account``: its own role session, as a cross-account caller would have."""
        if account not in self._credentials:
            sts = self.client("sts")
            c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/demo", RoleSessionName="harness")["Credentials"]
            self._credentials[account] = (c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
        return self._credentials[account]

    def client(self, service: str, account: str = PROVIDER, region: str = REGION, validate: bool = True):
        """A boto3 client of ``account`` in ``region``. ``validate=False`` turns off boto3's own
        check of parameters (ranges, required members) so that a request reaches the emulator as
        an SDK that does not check them (the AWS SDK for Rust) would send it."""
        key, secret, token = self._credentials.get(account) or self.credentials(account)
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            aws_session_token=token,
            config=Config(retries={"max_attempts": 2}, parameter_validation=validate),
        )

    def function_env(self) -> dict[str, str]:
        """What a function needs to reach this emulator as the provider account."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    # --- fault injection, call accounting, settings (tests/emulator/faults.py) ---------------

    def _control(self, method: str, path: str, payload=None):
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(f"{self.url}/_autopilot/{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as e:
            raise EmulatorError(f"{method} /_autopilot/{path}: {e.code} {e.read().decode(errors='replace')}") from e

    def faults(self, rules: list[dict]) -> None:
        """Replace the fault rules (``[]`` clears them). A rule: ``{"service": "sns",
        "operation": "Publish", "code": "InternalError", "status": 500, "message": "...",
        "times": 1, "skip": 0, "match": "..."}``, or ``"unsuccessful": true`` (EC2 Accept/Reject
        VpcEndpointConnections) / ``"unprocessed": true`` (DynamoDB BatchWriteItem/BatchGetItem)
        instead of an error. See tests/emulator/faults.py."""
        self._control("POST", "faults", rules)

    def fault_rules(self) -> list[dict]:
        """The current rules, with how often each was skipped and fired and what is left."""
        return self._control("GET", "faults")

    def calls(self) -> dict:
        """``{"<service>:<Operation>": {"count": n, "seconds": s, "faulted": f, "throttled": t}}``
        since the last reset; the service is the SigV4 signing name (``elasticloadbalancing`` for
        ELBv2); ``throttled`` counts requests refused by ``route53_rate``."""
        return self._control("GET", "calls")

    def reset_calls(self) -> None:
        self._control("POST", "calls/reset", {})

    def settings(self, **changes: float | None) -> dict:
        """Change emulator settings (``accept_seconds``: how long an accepted connection stays
        ``pending``; ``visible_after_seconds``: how long a new connection is not yet shown by
        DescribeVpcEndpointConnections; ``page_size``: the most items any page of the paged
        describe calls holds, ``None`` for AWS's own pages — see tests/emulator/paging.py;
        ``route53_rate``: ``None`` (off), ``True`` (Route 53's documented token buckets per
        account) or a number N (one bucket per account, N per second, burst N) — see
        tests/emulator/route53_throttling.py; ``route53_change_seconds``: how long a hosted zone
        stays "being changed" after an authorization or association change, answering
        ``ConcurrentModification`` / ``PriorRequestNotComplete`` meanwhile — see
        tests/emulator/route53_sharing.py) and return them all."""
        return self._control("POST", "settings", changes) if changes else self._control("GET", "settings")

    def share_vpc(self, vpc: str, owner: str, with_account: str, region: str | None = None) -> list[str]:
        """Share ``owner``'s VPC into ``with_account`` as VPC sharing through RAM does: the
        participant's DescribeVpcs lists it with the owner's ``OwnerId`` (without the owner's
        tags); the participant cannot tag it or associate it with a hosted zone. Returns the
        VPC's participants. See tests/emulator/vpc_sharing.py."""
        payload = {"vpc": vpc, "owner": owner, "with": with_account, **({"region": region} if region else {})}
        return self._control("POST", "share-vpc", payload)["participants"]

    def unshare_vpc(self, vpc: str, owner: str, with_account: str, region: str | None = None) -> list[str]:
        """End a share made by :meth:`share_vpc`; returns the VPC's remaining participants."""
        payload = {"vpc": vpc, "owner": owner, "with": with_account, **({"region": region} if region else {})}
        return self._control("POST", "unshare-vpc", payload)["participants"]
