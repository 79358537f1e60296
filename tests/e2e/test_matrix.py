"""`autopilot audit --matrix` end to end: the CLI's binary against estates on the emulator, its
text, JSON and HTML renderings compared with golden files, and the HTML page opened in a real
headless browser (Debian's Chromium, through ChromeDriver).

Ids the emulator makes up (services, VPCs, endpoints, ARNs' suffixes, the finding anchors) are
replaced by stable ones of the same length, in order of first appearance, before comparing:
``UPDATE_GOLDEN=1`` writes what was produced instead (review the diff)."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from harness import azs
from harness.emulator import PROVIDER
from harness.scenario import create_table
from test_cli import autopilot

GOLDEN = Path(__file__).resolve().parent / "golden" / "matrix"
SECOND, THIRD = "222222222222", "333333333333"
UTF8 = {"LANG": "C.UTF-8"}

# Ids the emulator makes up: (pattern, the group holding the random part).
RANDOM = [
    re.compile(r"\b(vpce-svc-|vpce-|vpc-|subnet-|i-)([0-9a-f]{8,17})\b"),
    re.compile(r"((?:loadbalancer/net|targetgroup)/[\w-]+/)([0-9a-f]{16})\b"),
    re.compile(r"\b(f-)([0-9a-f]{16})\b"),
]
WHEN = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC")


def stable(text: str) -> str:
    """The text with each made-up id replaced by a counter of the same length, per kind."""
    seen: dict[tuple[str, str], str] = {}

    def replace(m: re.Match) -> str:
        kind, value = m.group(1), m.group(2)
        if (kind, value) not in seen:
            n = sum(1 for k, _ in seen if k == kind) + 1
            seen[(kind, value)] = str(n).rjust(len(value), "0")
        return kind + seen[(kind, value)]

    for pattern in RANDOM:
        text = pattern.sub(replace, text)
    return WHEN.sub("2026-01-01 00:00 UTC", text)


def golden(name: str, actual: str) -> str:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual)
    return path.read_text()


def served_ids(p: azs.Provider) -> list[str]:
    ids = p.zone_ids(PROVIDER)
    return [ids[az] for az in p.subnets]


# Each scenario: a provider (build) and what is done to it, one consumer per account so that the
# order of the columns does not hang on made-up ids.
def skewed(emu):
    p = azs.build(emu)
    p.add_targets("us-east-1a", 1)
    ids = served_ids(p)
    p.consumer_endpoint(azs.CONSUMER, ids, ids, by_id=True)
    return p


def blackhole(emu):
    p = azs.build(emu)
    p.stop("us-east-1b")
    ids = served_ids(p)
    p.consumer_endpoint(azs.CONSUMER, ids, ids, by_id=True)
    p.consumer_endpoint(SECOND, ids[:1], ids[:1], by_id=True)
    return p


def unserved(emu):
    p = azs.build(emu)
    ids, far = served_ids(p), p.zone_ids(PROVIDER)["us-east-1c"]
    p.consumer_endpoint(azs.CONSUMER, [ids[0], far], [ids[0], far], by_id=True)
    p.consumer_endpoint(SECOND, ids, ids[:1], by_id=True)
    return p


def cross_region(emu):
    p = azs.build(emu)
    ids = served_ids(p)
    p.consumer_endpoint(azs.CONSUMER, ids, ids, by_id=True)
    p.cross_region_endpoint(THIRD, "us-west-2")
    return p


SCENARIOS = {"skewed": skewed, "blackhole": blackhole, "unserved": unserved, "cross-region": cross_region}


@pytest.mark.parametrize("name", SCENARIOS)
def test_text_json_and_html_match_their_golden_files(emu, tmp_path, name):
    p = SCENARIOS[name](emu)
    page = tmp_path / "coverage.html"
    text = autopilot("audit", "--matrix", "--width", "100", "--html", str(page), env={**p.env, **UTF8})
    assert text.code == (0 if name == "cross-region" else 2), text.stderr
    assert f"wrote {page}" in text.stderr
    doc = autopilot("--output", "json", "audit", "--matrix", env=p.env)
    assert doc.code == text.code, doc.stderr
    assert stable(text.stdout) == golden(f"{name}.txt", stable(text.stdout))
    pretty = json.dumps(doc.json, indent=2, ensure_ascii=False) + "\n"
    assert stable(pretty) == golden(f"{name}.json", stable(pretty))
    html = page.read_text()
    assert stable(html) == golden(f"{name}.html", stable(html))
    # The three say the same: every service, AZ ID and endpoint of the JSON is in the others.
    for service in doc.json["coverage"]["services"]:
        names = [service["service_id"], *(r["az_id"] for r in service["azs"]),
                 *(c["endpoint_id"] for c in service["consumers"])]
        assert all(n in text.stdout and n in html for n in names), names
    assert "<script" not in html and " src=" not in html, "self-contained, nothing fetched"


def test_cells_link_to_the_findings_they_show(emu):
    p = blackhole(emu)
    doc = autopilot("--output", "json", "audit", "--matrix", env=p.env).json
    [service] = doc["coverage"]["services"]
    listed = {f["fingerprint"]: f for f in service["findings"]}
    first, second = service["consumers"]
    hole = next(i for i, r in enumerate(service["azs"]) if r["state"] == "blackhole")
    assert first["cells"][hole]["state"] == "blackhole"
    [finding] = first["cells"][hole]["findings"]
    assert listed[finding]["check"] == "blackhole" and listed[finding]["severity"] == "critical"
    assert service["azs"][hole]["findings"] == [finding]
    assert all(c["state"] != "blackhole" for c in second["cells"]), "the second is only in the healthy AZ"


def test_filters_and_problems_first(emu):
    p = azs.build(emu)
    ids = served_ids(p)
    p.consumer_endpoint(azs.CONSUMER, ids, ids, by_id=True)
    # A second service whose consumer is in an AZ it does not serve.
    ip = azs.ip_target_group(emu, azs=("us-east-1a", "us-east-1b"))
    far = p.zone_ids(PROVIDER)["us-east-1c"]
    ec2 = emu.client("ec2", SECOND)
    vpc = ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.60.0.0/24", AvailabilityZoneId=far)["Subnet"]["SubnetId"]
    ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=ip.service_name, VpcEndpointType="Interface", SubnetIds=[subnet])

    def services(*args: str) -> list[str]:
        run = autopilot("--output", "json", "audit", "--matrix", *args, env=p.env)
        assert run.code in (0, 2), run.stderr
        return [s["service_id"] for s in run.json["coverage"]["services"]]

    assert services() == [ip.service_id, p.service_id], "the one with a problem first"
    assert services("--problems") == [ip.service_id]
    assert services("--service", p.service_id) == [p.service_id]
    assert services("--account", SECOND) == [ip.service_id], "the services SECOND consumes"
    # Filters without --matrix are refused, not ignored.
    refused = autopilot("audit", "--problems", env=p.env)
    assert refused.code == 1 and "add --matrix" in refused.stderr


def test_ascii_without_a_utf8_locale_and_no_colour_off_a_tty(emu):
    p = blackhole(emu)
    plain = autopilot("audit", "--matrix", env={**p.env, "LANG": "C"})
    assert plain.stdout.isascii(), plain.stdout
    assert "\x1b[" not in plain.stdout
    assert "| ! " in plain.stdout or "| !" in plain.stdout, plain.stdout
    forced = autopilot("audit", "--matrix", "--ascii", env={**p.env, **UTF8})
    assert forced.stdout.isascii()
    unicode = autopilot("audit", "--matrix", env={**p.env, **UTF8})
    assert "⊘" in unicode.stdout and "│" in unicode.stdout
    # On a terminal: colour (the blackhole red), as wide as the terminal says; not with NO_COLOR.
    coloured = on_a_terminal(["audit", "--matrix"], {**p.env, **UTF8}, columns=60)
    assert "\x1b[1;31m⊘\x1b[0m" in coloured, coloured
    assert "\x1b[" not in on_a_terminal(["audit", "--matrix"], {**p.env, **UTF8, "NO_COLOR": "1"}, columns=60)
    # 44 columns leave room for one consumer a grid: the two consumers in two grids.
    narrow = on_a_terminal(["audit", "--matrix"], {**p.env, **UTF8, "NO_COLOR": "1"}, columns=44)
    assert sum("AZ ID" in line for line in narrow.splitlines()) == 2, narrow
    assert "AZ ID" in coloured and sum("AZ ID" in line for line in coloured.splitlines()) == 1


def on_a_terminal(args: list[str], env: dict[str, str], columns: int) -> str:
    """The CLI's output with a pseudo-terminal of ``columns`` columns as its stdout."""
    import fcntl
    import pty
    import struct
    import subprocess
    import termios

    from harness.lambda_host import binary

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    done = subprocess.run([str(binary("autopilot")), *args], env={"PATH": os.environ.get("PATH", ""), **env},
                          stdout=follower, stderr=subprocess.DEVNULL, timeout=120)
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(leader)
    assert done.returncode == 2
    return out.decode().replace("\r\n", "\n")


# --- the page in a real browser --------------------------------------------------------------


@pytest.fixture
def chromium():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-extensions", "--no-first-run",
                 "--disable-sync", "--disable-default-apps", "--window-size=1400,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"),
                              options=options)
    try:
        yield driver
    finally:
        driver.quit()


def estate(emu) -> list[str]:
    """20 endpoint services in the provider account, each an NLB in two or three AZs with its own
    targets, and consumers in five accounts: blackholes, skewed targets, consumers in AZs a
    service does not serve, endpoints missing an AZ their VPC uses."""
    ec2, elb = emu.client("ec2"), emu.client("elbv2")
    names = ["us-east-1a", "us-east-1b", "us-east-1c"]
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    subnets = {az: ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.8.{i}.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
               for i, az in enumerate(names)}
    provider_ids = {z["ZoneName"]: z["ZoneId"] for z in ec2.describe_availability_zones()["AvailabilityZones"]}
    accounts = [azs.CONSUMER, SECOND, THIRD, "444444444444", "555555555555"]
    # Each consumer account: a VPC in the two AZ IDs every service serves, and one in all three.
    consumer_vpcs = {}
    for a, account in enumerate(accounts):
        c = emu.client("ec2", account)
        vpcs = []
        for k, width in enumerate((2, 3)):
            v = c.create_vpc(CidrBlock=f"10.{100 + 2 * a + k}.0.0/16")["Vpc"]["VpcId"]
            vpcs.append((v, {provider_ids[az]: c.create_subnet(VpcId=v, CidrBlock=f"10.{100 + 2 * a + k}.{i}.0/24",
                                                               AvailabilityZoneId=provider_ids[az])["Subnet"]["SubnetId"]
                             for i, az in enumerate(names[:width])}))
        consumer_vpcs[account] = (c, vpcs)
    services = []
    for n in range(20):
        lb_azs = names if n % 3 == 0 else names[:2]
        nlb = elb.create_load_balancer(Name=f"svc-{n:02}", Subnets=[subnets[az] for az in lb_azs], Type="network",
                                       Scheme="internal")["LoadBalancers"][0]["LoadBalancerArn"]
        tg = elb.create_target_group(Name=f"svc-{n:02}", Protocol="TCP", Port=80, VpcId=vpc,
                                     TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
        elb.create_listener(LoadBalancerArn=nlb, Protocol="TCP", Port=80,
                            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
        per_az = {az: 2 if (n % 4 == 1 and az == "us-east-1a") else 1 for az in lb_azs}
        instances = {az: [i["InstanceId"] for i in ec2.run_instances(ImageId=azs.AMI, MinCount=k, MaxCount=k,
                                                                      SubnetId=subnets[az])["Instances"]]
                     for az, k in per_az.items()}
        elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": i} for ids in instances.values() for i in ids])
        if n % 5 == 2:
            ec2.stop_instances(InstanceIds=instances["us-east-1b"])
        service = ec2.create_vpc_endpoint_service_configuration(NetworkLoadBalancerArns=[nlb],
                                                                AcceptanceRequired=False)["ServiceConfiguration"]
        ec2.modify_vpc_endpoint_service_permissions(ServiceId=service["ServiceId"], AddAllowedPrincipals=["*"])
        for a, account in enumerate(accounts[: 1 + n % 5]):
            c, vpcs = consumer_vpcs[account]
            # Now and then in all three AZ IDs (one a two-AZ service does not serve), or in one
            # of the VPC's two.
            v, subnet_of = vpcs[1] if (n + a) % 6 == 5 else vpcs[0]
            where = list(subnet_of.values())
            if (n + a) % 7 == 3:
                where = where[:1]
            c.create_vpc_endpoint(VpcId=v, ServiceName=service["ServiceName"], VpcEndpointType="Interface",
                                  SubnetIds=where)
        services.append(service["ServiceId"])
    return services


def test_the_estate_page_in_chromium_shows_every_service_and_az_id_and_marks_the_problems(emu, tmp_path, chromium):
    from selenium.webdriver.common.by import By

    services = estate(emu)
    p_env = {**emu.function_env(), "HOME_ACCOUNT_ID": PROVIDER, "CONSUMER_ROLE_NAME": "privatelink-autopilot-reader",
             "FINDINGS_TABLE": create_table(emu, "privatelink-findings"),
             "ALERT_TOPIC_ARN": f"arn:aws:sns:us-east-1:{PROVIDER}:unused"}
    page = tmp_path / "estate.html"
    run = autopilot("audit", "--html", str(page), env=p_env)
    assert run.code == 2, run.stderr
    doc = autopilot("--output", "json", "audit", "--matrix", env=p_env).json["coverage"]
    assert sorted(s["service_id"] for s in doc["services"]) == sorted(services)

    chromium.get(page.as_uri())
    assert chromium.title == "PrivateLink AZ coverage"
    shown = {e.get_attribute("data-service"): e for e in chromium.find_elements(By.CSS_SELECTOR, "section.service")}
    assert set(shown) == set(services)
    for s in doc["services"]:
        section = shown[s["service_id"]]
        assert section.find_element(By.TAG_NAME, "h2").is_displayed()
        assert section.find_element(By.TAG_NAME, "h2").text == s["service_id"]
        rows = section.find_elements(By.CSS_SELECTOR, "g.az-row text.az")
        assert [r.text for r in rows] == [r["az_id"] for r in s["azs"]]
        assert all(r.is_displayed() and r.size["width"] > 0 for r in rows)
        for consumer in s["consumers"]:
            for row, cell in zip(s["azs"], consumer["cells"]):
                g = section.find_element(
                    By.CSS_SELECTOR, f'g.cell[data-az="{row["az_id"]}"][data-endpoint="{consumer["endpoint_id"]}"]')
                assert g.get_attribute("data-state") == cell["state"].replace("_", "-")
                problem = "problem" in g.get_attribute("class").split()
                assert problem == (cell["state"] in ("unserved", "blackhole", "uncovered"))
    # Problem cells are drawn as problems: red or amber, not the green of a served one.
    fills = {}
    for state in ("served", "unserved", "blackhole", "uncovered"):
        cells = chromium.find_elements(By.CSS_SELECTOR, f"section.service g.cell.{state} rect")
        assert cells, f"the estate has {state} cells"
        assert all(c.is_displayed() for c in cells)
        fills[state] = {c.value_of_css_property("fill") for c in cells}
    assert fills["served"] == {"rgb(46, 125, 50)"}
    assert fills["unserved"] == {"rgb(198, 40, 40)"} and fills["blackhole"] == {"rgb(74, 0, 0)"}
    assert fills["uncovered"] == {"rgb(249, 168, 37)"}
    # A problem cell links to its finding on the page.
    link = chromium.find_element(By.CSS_SELECTOR, "a:has(> g.cell.blackhole)")
    target = link.get_dom_attribute("href").removeprefix("#")
    finding = chromium.find_element(By.ID, target)
    assert "blackhole" in finding.text and finding.is_displayed()
    # Problems first: the first section has one, the last has none.
    sections = chromium.find_elements(By.CSS_SELECTOR, "section.service")
    assert "problem" in sections[0].get_attribute("class").split()
    assert "problem" not in sections[-1].get_attribute("class").split()

    height = chromium.execute_script("return document.documentElement.scrollHeight")
    chromium.set_window_size(1400, height + 40)
    shot = Path(os.environ.get("AZ_COVERAGE_SCREENSHOT") or tmp_path / "estate.png")
    shot.parent.mkdir(parents=True, exist_ok=True)
    assert chromium.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
