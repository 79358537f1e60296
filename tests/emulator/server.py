"""Start moto's server with this project's extensions on 127.0.0.1 and a free port.

Requests pass through ``faults.Middleware`` (fault injection, call accounting and the
``/_autopilot/`` control endpoints) before moto sees them.

Prints ``READY http://127.0.0.1:<port>`` once it serves, then runs until its standard input closes
(so it never outlives the harness that started it) or it is terminated.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import availability_zones  # noqa: E402
import ec2_throttling  # noqa: E402
import elb_throttling  # noqa: E402
import faults  # noqa: E402
import latency  # noqa: E402
import limits  # noqa: E402
import paging  # noqa: E402
import privatelink  # noqa: E402
import route53_sharing  # noqa: E402
import route53_throttling  # noqa: E402
import target_health  # noqa: E402
import vpc_sharing  # noqa: E402

if os.environ.get("MOTO_ACCOUNT_ID"):
    sys.exit("MOTO_ACCOUNT_ID must not be set: it turns off moto's multiple accounts")

availability_zones.install()
target_health.install(privatelink.SETTINGS)  # after availability_zones: it wraps its health rules
privatelink.install()
route53_sharing.install(privatelink.SETTINGS)
route53_throttling.install(privatelink.SETTINGS)
elb_throttling.install(privatelink.SETTINGS)
ec2_throttling.install(privatelink.SETTINGS)
latency.install(privatelink.SETTINGS)
limits.install()
paging.install(privatelink.SETTINGS)
vpc_sharing.install()
server = faults.AutopilotServer(ip_address="127.0.0.1", port=0, verbose=False, settings=privatelink.SETTINGS)
server.start()
host, port = server.get_host_and_port()
print(f"READY http://{host}:{port}", flush=True)
try:
    sys.stdin.read()
finally:
    server.stop()
