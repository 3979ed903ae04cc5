"""A real first boot of what asg-deploy launches: Debian 13 under systemd and cloud-init, with the
user data of the launch template `asg-deploy create` made (against moto) and the config bucket its
upload code filled, the fetch it shipped with the build, real apt, nginx and a real JVM app.

AWS is stood in for by real servers on 127.0.0.1: moto (CloudFormation, EC2, S3, SSM, ...), an
IMDSv2 endpoint for the instance role, an HTTPS server with a throwaway CA for the artifact, and a
recording cfn-signal. A second instance boots a build whose artifact checksum is wrong.
"""

import base64
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

import servers
from container import Container

REPO = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
STACK = "realboot"
DEBIAN_AMI = "ami-0d13d13d13d13d13d"
DEBIAN_PARAMETER = "/aws/service/debian/release/13/latest/amd64"
ROLE_KEYS = ("ASIAREALBOOTROLEKEY", "real-boot-role-secret", "real-boot-session-token")
STEPS = [
    "check_settings", "install_dependencies", "enable_swap", "install_fetch", "create_app_user",
    "provision_app_directory", "copy_http_resources", "copy_s3_resources", "start_servers", "signal_success",
]
# Records each signal instead of calling CloudFormation, which the container cannot reach.
RECORDING_CFN_SIGNAL = b"""#!/bin/sh
printf '%s\\n' "$*" >>/var/log/cfn-signal.log
"""
APP_JAVA = """
import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;

public class App {
    public static void main(String[] args) throws Exception {
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 8080), 0);
        server.createContext("/", exchange -> {
            String build = exchange.getRequestHeaders().getFirst("X-Build-Number");
            byte[] body = ("app " + exchange.getRequestURI().getPath() + " build " + build + "\\n").getBytes();
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        server.start();
    }
}
"""


@functools.cache
def target_dir():
    """Where cargo put the debug build of asg-deploy and the fetch beside it."""
    out = subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=REPO, check=True,
                         capture_output=True, text=True).stdout
    return Path(json.loads(out)["target_directory"]) / "debug"


def build_jar(directory):
    """A real jar from a tiny com.sun.net.httpserver app, compiled here with javac."""
    src = directory / "src"
    src.mkdir()
    (src / "App.java").write_text(APP_JAVA)
    classes = directory / "classes"
    subprocess.run(["javac", "--release", "17", "-d", str(classes), str(src / "App.java")], check=True)
    jar = directory / "www" / "app-1.jar"
    jar.parent.mkdir()
    subprocess.run(["jar", "--create", "--file", str(jar), "--main-class", "App", "-C", str(classes), "."],
                   check=True)
    return jar


class Moto:
    """A whole moto server (every service asg-deploy calls) whose SSM has Debian 13's parameter."""

    def __init__(self, log_path):
        self.port = servers.free_port()
        self.log = open(log_path, "wb")
        seeder = REPO / "asg-deployer/tests/common/moto_public_parameters.py"
        self.process = subprocess.Popen(
            [sys.executable, str(seeder), "127.0.0.1", str(self.port), REGION, f"{DEBIAN_PARAMETER}={DEBIAN_AMI}"],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
            env=dict(os.environ, MOTO_ACM_VALIDATION_WAIT="0"),
        )
        servers.wait_for_port(self.port, timeout=60, process=self.process)
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def client(self, service):
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id="operator", aws_secret_access_key="operator-secret")

    def network(self):
        """What the operator's account already has: two subnets in two zones and a certificate."""
        ec2 = self.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{z}")
                   ["Subnet"]["SubnetId"] for i, z in enumerate("ab")]
        certificate = self.client("acm").request_certificate(DomainName="app.example.com")["CertificateArn"]
        return subnets, certificate

    def user_data(self):
        """The user data of the launch template version the stack's group runs, as EC2 hands it over."""
        outputs = {o["OutputKey"]: o["OutputValue"]
                   for o in self.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]["Outputs"]}
        group = self.client("autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=[outputs["GroupName"]])["AutoScalingGroups"][0]
        template = group["LaunchTemplate"]
        version = self.client("ec2").describe_launch_template_versions(
            LaunchTemplateId=template["LaunchTemplateId"], Versions=[template["Version"]])
        return base64.b64decode(version["LaunchTemplateVersions"][0]["LaunchTemplateData"]["UserData"])

    def close(self):
        servers.stop_process_group(self.process)
        self.log.close()


@pytest.fixture(scope="module")
def aws(tmp_path_factory):
    """The stand-ins for AWS, the artifact's HTTPS server, and the binaries under test."""
    base = tmp_path_factory.mktemp("aws")
    ca_pem, cert_pem, key_pem = servers.make_test_ca(base)
    jar = build_jar(base)
    https = servers.HttpsFileServer(jar.parent, cert_pem, key_pem)
    imds = servers.ImdsServer(*ROLE_KEYS)
    moto = Moto(base / "moto.log")
    try:
        yield {"ca_pem": ca_pem, "jar": jar, "https": https, "imds": imds, "moto": moto, "home": base}
    finally:
        moto.close()
        imds.close()
        https.close()


def asg_deploy(aws, command, build, artifact_url, subnets, certificate):
    """The asg-deploy built beside fetch, with no AMIID and no FETCH_URL: stock Debian 13 gets the
    fetch beside it uploaded with the build."""
    binary = target_dir() / "asg-deploy"
    env = {
        "PATH": os.environ["PATH"], "HOME": str(aws["home"]),
        "AWS_ACCESS_KEY_ID": "operator", "AWS_SECRET_ACCESS_KEY": "operator-secret", "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL": aws["moto"].endpoint, "AWS_EC2_METADATA_DISABLED": "true",
        "STACK_NAME": STACK, "BUILD_NUMBER": str(build), "SUBNETS": ",".join(subnets),
        "AWSCERTIFICATE": certificate, "ARTIFACT_URL": artifact_url, "BASE_IMAGE": "debian-13",
        "DESIREDCAPACITY": "1",
        # moto's load balancer has no DNS name to send an HTTPS request to.
        "HEALTH_CHECK": "targets",
    }
    run = subprocess.run([str(binary), command], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"asg-deploy {command}:\n{run.stdout}\n{run.stderr}"
    return run.stdout


def boot(base_image, aws, user_data, log_dir, debs=None):
    """A container seeded with `user_data`, booted to the end of cloud-init; the caller closes it."""
    box = Container(base_image, console_log=log_dir / "console.log").__enter__()
    try:
        box.add_ca_certs({"real-boot-test-ca": aws["ca_pem"].read_bytes()})
        box.put("/usr/local/bin/cfn-signal", RECORDING_CFN_SIGNAL, 0o755)
        box.set_default_environment({
            "AWS_ENDPOINT_URL_S3": aws["moto"].endpoint,
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": aws["imds"].endpoint,
        })
        for deb in debs or []:
            box.put(f"/var/cache/apt/archives/{deb.name}", deb.read_bytes())
        box.seed(user_data)
        box.boot()
        box.status = box.wait_cloud_init(timeout=480)
        box.output = box.exec(["cat", "/var/log/cloud-init-output.log"]).stdout
        box.signals = box.exec(["cat", "/var/log/cfn-signal.log"]).stdout.splitlines()
        return box
    except BaseException:
        box.close()
        raise


def header_value(user_data, name):
    match = re.search(rf"^{name}='([^']*)'$", user_data.decode(), re.MULTILINE)
    assert match, f"{name} is not in the user data header"
    return match.group(1)


def step_times(output):
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^boot: (\w+) done in ([0-9.]+) s$", output, re.M)}


def test_asg_deploys_user_data_boots_debian_13_for_real(base_image, aws, tmp_path):
    subnets, certificate = aws["moto"].network()
    digest = hashlib.sha256(aws["jar"].read_bytes()).hexdigest()
    artifact = aws["https"].url(aws["jar"].name)
    created = asg_deploy(aws, "create", 1, f"{artifact}#sha256={digest}", subnets, certificate)
    assert f"AMI {DEBIAN_AMI} (Debian 13 from {DEBIAN_PARAMETER}; pinned in the stack)" in created
    user_data = aws["moto"].user_data()
    fetch_sha256 = hashlib.sha256((target_dir() / "fetch").read_bytes()).hexdigest()
    assert header_value(user_data, "FETCH_URL") == ""
    assert header_value(user_data, "FETCH_SHA256") == fetch_sha256
    bucket = header_value(user_data, "CONFIG_BUCKET")

    box = boot(base_image, aws, user_data, tmp_path)
    try:
        described = f"--- cloud-init status\n{box.status.stdout}{box.status.stderr}\n--- output\n{box.output}"
        assert box.status.returncode == 0 and "status: done" in box.status.stdout, described
        times = step_times(box.output)
        assert list(times) == STEPS, described
        assert box.signals == [f"--stack {STACK} --resource AppGroup --region {REGION} --exit-code 0"], described

        # The fetch that ran came from the config bucket and is the one asg-deploy shipped.
        assert f"installed fetch from s3://{bucket}/builds/1/fetch (sha256 {fetch_sha256})" in box.output
        installed = box.exec(["sha256sum", "/usr/local/bin/fetch"]).stdout.split()[0]
        assert installed == fetch_sha256
        assert ROLE_KEYS[1] not in box.output

        # The unit runs a real JVM as its main process, sandboxed.
        shown = dict(line.split("=", 1) for line in
                     box.exec(["systemctl", "show", "-p", "ActiveState,SubState,MainPID,User", "app.service"])
                     .stdout.splitlines())
        assert (shown["ActiveState"], shown["SubState"], shown["User"]) == ("active", "running", "app"), shown
        exe = box.exec(["readlink", "-f", f"/proc/{shown['MainPID']}/exe"]).stdout.strip()
        assert exe.startswith("/usr/lib/jvm/") and exe.endswith("/bin/java"), exe
        security = box.exec(["systemd-analyze", "security", "--no-pager", "app.service"]).stdout
        exposure = float(re.search(r"Overall exposure level for app\.service: ([0-9.]+)", security).group(1))
        assert exposure <= 2.0, security

        # nginx on port 80 answers for the app, tagged with the build, on both paths.
        for path in ("/healthz", "/"):
            answer = box.exec(["curl", "-si", "--noproxy", "*", f"http://127.0.0.1{path}"]).stdout
            assert answer.startswith("HTTP/1.1 200"), answer
            assert re.search(r"^X-Build-Number: 1\r?$", answer, re.M | re.I), answer
            assert f"app {path} build 1" in answer, answer

        # Swap, the app's user and the modes of what it may read.
        assert box.exec(["swapon", "--show=NAME", "--noheadings"]).stdout.split() == ["/swapfile"]
        user = box.exec(["getent", "passwd", "app"]).stdout.strip().split(":")
        assert user[5:] == ["/nonexistent", "/usr/sbin/nologin"], user
        modes = box.exec(["stat", "-L", "-c", "%n %a %U %G", "/var/www/app", "/var/www/app/app.jar",
                          "/usr/local/bin/fetch"]).stdout.splitlines()
        assert modes == ["/var/www/app 750 root app", "/var/www/app/app.jar 640 root app",
                         "/usr/local/bin/fetch 755 root root"], modes
        debs = tmp_path / "debs"
        shutil.copytree(box.root / "var/cache/apt/archives", debs, ignore=shutil.ignore_patterns("lock", "partial"))
    finally:
        box.close()
    report(box, times)

    # A build whose artifact checksum is wrong: one failure signal, nothing started.
    asg_deploy(aws, "update", 2, f"{artifact}#sha256={'0' * 64}", subnets, certificate)
    log_dir = tmp_path / "bad"
    log_dir.mkdir()
    box = boot(base_image, aws, aws["moto"].user_data(), log_dir, debs=sorted(debs.glob("*.deb")))
    try:
        described = f"--- cloud-init status\n{box.status.stdout}{box.status.stderr}\n--- output\n{box.output}"
        assert "status: error" in box.status.stdout, described
        assert "boot: step copy_http_resources failed after" in box.output, described
        assert len(box.signals) == 1 and not box.signals[0].endswith("--exit-code 0"), described
        assert box.exec(["systemctl", "is-active", "app.service"]).stdout.strip() != "active"
        for path in ("/var/www/app/app.jar", "/etc/nginx/sites-enabled/app.conf", "/etc/systemd/system/app.service"):
            assert not os.path.lexists(box.root / path.lstrip("/")), path
    finally:
        box.close()


def report(box, times):
    """The measured phases, for docs/boot.md."""
    phases = [f"{name} {seconds:.1f} s" for name, seconds in box.timings.items()]
    steps = [f"{name} {seconds:.1f} s" for name, seconds in times.items()]
    print(f"\nreal boot: {', '.join(phases)}\nboot.sh steps: {', '.join(steps)}", file=sys.stderr)
