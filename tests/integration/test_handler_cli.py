"""./bootstrap's command line (README.md, "Result") and its configuration errors (README.md, "Configuration"):
--version, --help, usage errors (exit 2), and every invalid variable reported with --invoke as the
error JSON on stdout, exit 2, with a message naming the variable and the problem. These runs stop
before any network use, so no namespace is needed.
"""
import json
import os
import re
import subprocess

import tap

BOOTSTRAP = os.path.join(tap.build_dir(), "bootstrap")
ARN = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/orders-db-tg/5d2c7e41a9b3f086"
SECRET = "cliTestSecret/K7MDENG+bPxRfiCYCLIKEY"
GOOD = {
    "PATH": "/usr/bin:/bin",
    "TARGET_GROUP_ARN": ARN,
    "DB_ENDPOINT": "orders-db.abc123xyz.eu-west-1.rds.amazonaws.com",
    "DB_PORT": "5432",
    "AWS_ACCESS_KEY_ID": "AKIDCLITEST",
    "AWS_SECRET_ACCESS_KEY": SECRET,
    "AWS_SESSION_TOKEN": "cliTestSessionToken",
}


def run(args, env=None, stdin=b"{}", **overrides):
    e = dict(GOOD if env is None else env)
    for k, v in overrides.items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = v
    p = subprocess.run([BOOTSTRAP] + list(args), input=stdin, env=e, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def config_error(**overrides):
    code, out, err = run(["--invoke", "-"], **overrides)
    tap.eq(code, 2, "exit status; stdout %s stderr %s" % (out, err[-500:]))
    tap.ok(out.endswith("\n") and out.count("\n") == 1, "one line on stdout")
    obj = json.loads(out)
    tap.eq(sorted(obj), ["errorMessage", "errorType"])
    tap.eq(obj["errorType"], "Runtime.ConfigError")
    tap.ok(SECRET not in out + err and "cliTestSessionToken" not in out + err, "no secret shown")
    return obj["errorMessage"]


def pkg_config_version(module):
    return subprocess.run(["pkg-config", "--modversion", module], stdout=subprocess.PIPE,
                          check=True).stdout.decode().strip()


@tap.case
def version_names_the_linked_libraries():
    # This build links Debian's shared libraries, so pkg-config knows their versions.
    code, out, err = run(["--version"])
    tap.eq(code, 0)
    lines = out.splitlines()
    tap.ok(re.fullmatch(r"rds-nlb-sync \d+\.\d+\.\d+", lines[0]), out)
    want = ["libcurl " + pkg_config_version("libcurl"), "OpenSSL " + pkg_config_version("openssl"),
            "jansson " + pkg_config_version("jansson"), "expat " + pkg_config_version("expat")]
    tap.eq(lines[1:5], want, "the four libraries")


@tap.case
def help_lists_the_configuration():
    code, out, err = run(["--help"])
    tap.eq(code, 0)
    for name in ("TARGET_GROUP_ARN", "DB_ENDPOINT", "DB_PORT", "DB_IDENTIFIER", "ALLOWED_CIDRS", "IP_FAMILY",
                 "FAILOVER_WAIT_SECONDS", "DNS_POLL_MS", "DRY_RUN", "METRICS_NAMESPACE", "AWS_REGION",
                 "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2", "AWS_ENDPOINT_URL", "AWS_MAX_ATTEMPTS",
                 "AWS_CA_BUNDLE", "SSL_CERT_FILE", "AWS_LAMBDA_LOG_FORMAT", "AWS_LAMBDA_LOG_LEVEL",
                 "TARGET_AVAILABILITY_ZONE", "--invoke", "--version"):
        tap.ok(name in out, "%s in --help" % name)


@tap.case
def help_lists_the_cluster_and_endpoint_variables():
    code, out, err = run(["--help"])
    for name in ("DB_CLUSTER_IDENTIFIER", "DB_ROLE", "AWS_ENDPOINT_URL_RDS", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"):
        tap.ok(re.search(r"^  %s( |$)" % name, out, re.M), "%s in --help" % name)
    tap.ok(re.search(r"^  DB_ENDPOINT  required: yes, except with DB_CLUSTER_IDENTIFIER$", out, re.M),
           "DB_ENDPOINT is not required in cluster mode")


# The environment is read in three places only: the configuration table's
# reader (config_getenv, handler/sync/config.c), the logger (its two
# variables, which the table lists as the logger's) and main.c (the Runtime
# API's address, which is Lambda's, not configuration).
GETENV_ALLOWED = {("AWS_LAMBDA_LOG_FORMAT", "common/log.c"), ("AWS_LAMBDA_LOG_LEVEL", "common/log.c"),
                  ("AWS_LAMBDA_RUNTIME_API", "handler/main.c"), ("name", "handler/sync/config.c")}


@tap.case
def no_getenv_outside_the_configuration_table():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code, out, err = run(["--help"])
    found = set()
    for top in ("common", "handler", "runtime", "sigv4"):
        for folder, _, files in os.walk(os.path.join(root, top)):
            for f in files:
                if not f.endswith((".c", ".h")):
                    continue
                path = os.path.join(folder, f)
                with open(path, encoding="utf-8") as src:
                    code_only = re.sub(r"/\*.*?\*/", "", src.read(), flags=re.S)  # usage examples in comments
                    for m in re.finditer(r"\bgetenv\(\s*\"?(\w+)\"?\s*\)", code_only):
                        found.add((m.group(1), os.path.relpath(path, root)))
    tap.ok(("name", "handler/sync/config.c") in found, "the scan finds config_getenv's getenv")
    tap.eq(sorted(found - GETENV_ALLOWED), [], "getenv outside the configuration table's reader")
    for name, path in GETENV_ALLOWED:
        if name.startswith("AWS_LAMBDA_LOG"):
            tap.ok(re.search(r"^  %s\n.*read by the logger" % name, out, re.M), "%s: the logger's, in --help" % name)


@tap.case
def usage_errors():
    for args in ([], ["--bogus"], ["--invoke"], ["--invoke", "-", "extra"], ["--invoke", "-", "--timeout", "0"],
                 ["--invoke", "-", "--timeout", "x"], ["--version", "extra"]):
        code, out, err = run(args)
        tap.eq(code, 2, "exit status of %s" % args)
        tap.eq(out, "", "nothing on stdout for %s" % args)
        tap.ok("usage:" in err, "usage on stderr for %s" % args)
    tap.ok("--invoke needs an event file" in run(["--invoke"])[2], "bare --invoke says what it needs")
    tap.ok("--version takes no arguments" in run(["--version", "extra"])[2], "--version extra")


@tap.case
def no_runtime_api_without_flags():
    code, out, err = run([], AWS_LAMBDA_RUNTIME_API=None)
    tap.eq(code, 2)
    tap.ok("AWS_LAMBDA_RUNTIME_API" in err, err)


@tap.case
def unreadable_event_file():
    code, out, err = run(["--invoke", "/nonexistent/event.json"])
    tap.eq(code, 2)
    tap.ok("cannot read the event from /nonexistent/event.json" in err, err)


@tap.case
def issue_examples():
    tap.eq(config_error(DB_PORT="70000"), "DB_PORT=70000: must be 1..65535")
    tap.eq(config_error(TARGET_GROUP_ARN=None), "TARGET_GROUP_ARN is required")
    tap.eq(config_error(ALLOWED_CIDRS="10.0.0.0/8, 10.0.0.0/33"), 'ALLOWED_CIDRS: "10.0.0.0/33": prefix must be 0..32')
    tap.eq(config_error(AWS_REGION="us-east-1"),
           "AWS_REGION=us-east-1 contradicts the region of TARGET_GROUP_ARN (eu-west-1)")
    tap.eq(config_error(IP_FAMILY="ipv5"), "IP_FAMILY=ipv5: must be ipv4, ipv6 or dual")


@tap.case
def every_variable_validated():
    cases = {
        "DB_ENDPOINT": (None, "DB_ENDPOINT is required"),
        "DB_PORT": ("0x10", "DB_PORT=0x10: must be 1..65535"),
        "FAILOVER_WAIT_SECONDS": ("1000", "FAILOVER_WAIT_SECONDS=1000: must be 0..900"),
        "DNS_POLL_MS": ("10", "DNS_POLL_MS=10: must be 50..60000"),
        "AWS_MAX_ATTEMPTS": ("0", "AWS_MAX_ATTEMPTS=0: must be 1..20"),
        "DRY_RUN": ("perhaps", "DRY_RUN=perhaps: must be true or false (also 1/0, yes/no)"),
        "METRICS_NAMESPACE": ("AWS/Lambda", "METRICS_NAMESPACE=AWS/Lambda: the AWS/ prefix is reserved for AWS services"),
        "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2": ("localhost:443", "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2="
                                                       "localhost:443: must be an http:// or https:// URL"),
        "AWS_ACCESS_KEY_ID": (None, "AWS_ACCESS_KEY_ID is required (Lambda sets it; elsewhere export credentials)"),
        "AWS_SECRET_ACCESS_KEY": (None, "AWS_SECRET_ACCESS_KEY is required (Lambda sets it; elsewhere export "
                                        "credentials)"),
        "TARGET_AVAILABILITY_ZONE": ("Zone A", "TARGET_AVAILABILITY_ZONE=Zone A: must be an Availability Zone name "
                                               "(like eu-west-1a) or all"),
        "TARGET_GROUP_ARN": ("arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/x",
                             "TARGET_GROUP_ARN=arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/x: "
                             "must look like arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>"),
    }
    for name, (value, want) in cases.items():
        tap.eq(config_error(**{name: value}), want, name)


@tap.case
def endpoint_url_errors_name_the_variable():
    # An http(s) URL whose host or port is unusable is still a problem of that variable: the
    # message names it (README.md, "Configuration"), and never shows credentials written into the URL.
    for name in ("AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2", "AWS_ENDPOINT_URL"):
        for value in ("https://elb.example:99999", "https://elb.example:", "http://[::1", "https://elb.example/?x=1"):
            env = {"AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2": None, name: value}
            msg = config_error(**env)
            tap.ok(msg.startswith(name + "=" + value + ": ") or msg.startswith(name + ": "),
                   "%s=%s gives: %s" % (name, value, msg))
    msg = config_error(AWS_ENDPOINT_URL="https://user:hunter2pw@elb.example")
    tap.ok(msg.startswith("AWS_ENDPOINT_URL"), msg)
    tap.ok("hunter2pw" not in msg, "credentials of the URL shown: " + msg)


@tap.case
def several_problems_at_once():
    msg = config_error(DB_PORT="", DB_ENDPOINT=None, AWS_DEFAULT_REGION="us-west-2")
    tap.eq(msg, "DB_ENDPOINT is required; DB_PORT is required; "
                "AWS_DEFAULT_REGION=us-west-2 contradicts the region of TARGET_GROUP_ARN (eu-west-1)")


@tap.case
def secret_values_are_never_shown():
    msg = config_error(AWS_SECRET_ACCESS_KEY=SECRET + " \t", AWS_SESSION_TOKEN="cliTestSessionToken\n")
    tap.eq(msg, "AWS_SECRET_ACCESS_KEY contains blanks or control characters; "
                "AWS_SESSION_TOKEN contains blanks or control characters")


@tap.case
def config_error_wins_over_a_bad_event():
    code, out, err = run(["--invoke", "-"], stdin=b"not json", DB_PORT="99999")
    tap.eq(code, 2)
    tap.eq(json.loads(out)["errorMessage"], "DB_PORT=99999: must be 1..65535")


tap.main()
