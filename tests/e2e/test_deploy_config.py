"""The deploy path as written: the sample samconfig and `make deploy` against what template.yaml
asks for (its parameters, the IAM capability its named roles need), and the template free of
what the SAM translator cannot read."""

from __future__ import annotations

import re
import tomllib

from harness.template import ROOT, load

TEMPLATE = load()
SAMCONFIG = tomllib.loads((ROOT / "samconfig.example.toml").read_text())


def overrides() -> dict[str, str]:
    pairs = SAMCONFIG["default"]["deploy"]["parameters"]["parameter_overrides"]
    return dict(p.split("=", 1) for p in pairs)


def test_the_sample_config_sets_every_required_parameter_and_no_unknown_one():
    parameters = TEMPLATE["Parameters"]
    given = overrides()
    assert set(given) <= set(parameters), set(given) - set(parameters)
    required = {name for name, p in parameters.items() if "Default" not in p}
    assert required <= set(given), required - set(given)
    for name, value in given.items():
        allowed = parameters[name].get("AllowedValues")
        assert allowed is None or value in [str(v) for v in allowed], (name, value)
        pattern = parameters[name].get("AllowedPattern")
        assert pattern is None or re.fullmatch(pattern, value), (name, value)


def test_named_roles_need_capability_named_iam_in_both_deploy_paths():
    named = [n for n, r in TEMPLATE["Resources"].items()
             if r.get("Type") == "AWS::IAM::Role" and "RoleName" in r.get("Properties", {})]
    assert named, "the template names its roles (spoke roles trust exactly them)"
    assert "CAPABILITY_NAMED_IAM" in SAMCONFIG["default"]["deploy"]["parameters"]["capabilities"].split()
    deploy = next(line for line in (ROOT / "Makefile").read_text().splitlines() if "sam deploy" in line)
    assert "--capabilities CAPABILITY_NAMED_IAM" in deploy


def test_no_resource_entry_is_a_list():
    # The SAM translator's plugins read every entry under Resources as a mapping; a Fn::ForEach
    # block is a list and stops `sam build` (aws/serverless-application-model#3641).
    assert all(isinstance(r, dict) for r in TEMPLATE["Resources"].values())
    assert "AWS::LanguageExtensions" not in str(TEMPLATE.get("Transform"))


def test_every_function_is_built_by_cargo_lambda_for_arm64_from_its_own_package():
    functions = {n: r for n, r in TEMPLATE["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}
    packages = {p.name for p in (ROOT / "functions").iterdir() if (p / "Cargo.toml").exists()}
    assert {f["Metadata"]["BuildProperties"]["Binary"] for f in functions.values()} == packages
    assert TEMPLATE["Globals"]["Function"]["Architectures"] == ["arm64"]
    assert TEMPLATE["Globals"]["Function"]["MemorySize"] == 128
    for name, f in functions.items():
        assert f["Metadata"]["BuildMethod"] == "rust-cargolambda", name
        assert f["Properties"]["CodeUri"] == f"functions/{f['Metadata']['BuildProperties']['Binary']}", name
