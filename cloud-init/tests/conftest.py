"""Fixtures for the boot rehearsal: the local servers, and one temporary machine root per test."""

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest

import servers

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent.parent
BOOT_SH = REPO / "cloud-init" / "boot.sh"
BUCKET = "rehearsal-config"
REGION = "us-east-1"
BUILD = "42"
# What the instance role's credentials look like; the S3 server sees them only through IMDS.
ROLE_KEYS = ("ASIAREHEARSALROLEKEY", "rehearsal-role-secret", "rehearsal-session-token")


def fetch_binary():
    """The fetch binary under test: $FETCH_BINARY, else the workspace's debug build."""
    path = Path(os.environ.get("FETCH_BINARY") or REPO / "target" / "debug" / "fetch").resolve()
    if not os.access(path, os.X_OK):
        pytest.fail(f"no fetch binary at {path}: run scripts/boot-rehearsal, which builds it with cargo")
    return path


@dataclass
class Servers:
    """The servers every rehearsal shares; each test starts from an empty S3."""

    ca_pem: Path
    www: Path
    https: servers.HttpsFileServer
    imds: servers.ImdsServer
    moto: servers.MotoS3Server
    fetch: Path
    artifact: Path = field(init=False)
    fetch_sha256: str = field(init=False)

    def __post_init__(self):
        self.fetch_sha256 = hashlib.sha256(self.fetch.read_bytes()).hexdigest()
        self.artifact = self.www / f"app-{BUILD}.jar"
        self.artifact.write_bytes(os.urandom(200 * 1024))

    def artifact_url(self, sha256=None):
        digest = sha256 or hashlib.sha256(self.artifact.read_bytes()).hexdigest()
        return self.https.url(self.artifact.name) + f"#sha256={digest}"

    def _s3(self):
        return boto3.client(
            "s3",
            endpoint_url=self.moto.endpoint,
            region_name=REGION,
            aws_access_key_id="uploader",
            aws_secret_access_key="uploader-secret",
        )

    def upload_config(self):
        """Uploads the repo's site and unit where asg-deploy puts them for build BUILD."""
        self.moto.reset()
        s3 = self._s3()
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key=f"builds/{BUILD}/app.conf", Body=(REPO / "nginx/app.conf").read_bytes())
        s3.put_object(Bucket=BUCKET, Key=f"builds/{BUILD}/app.service", Body=(REPO / "systemd/app.service").read_bytes())

    def upload_fetch(self):
        """Uploads the fetch binary where asg-deploy ships it with build BUILD."""
        self._s3().put_object(Bucket=BUCKET, Key=f"builds/{BUILD}/fetch", Body=self.fetch.read_bytes())


@pytest.fixture(scope="session")
def local_servers(tmp_path_factory):
    base = tmp_path_factory.mktemp("servers")
    ca_pem, cert_pem, key_pem = servers.make_test_ca(base)
    www = base / "www"
    www.mkdir()
    # A snapshot, so that a cargo build running meanwhile cannot change the binary under the tests.
    fetch = www / "fetch"
    shutil.copy(fetch_binary(), fetch)
    https = servers.HttpsFileServer(www, cert_pem, key_pem)
    imds = servers.ImdsServer(*ROLE_KEYS)
    moto = servers.MotoS3Server(base / "moto.log")
    try:
        yield Servers(ca_pem=ca_pem, www=www, https=https, imds=imds, moto=moto, fetch=fetch)
    finally:
        moto.close()
        imds.close()
        https.close()


@dataclass
class Boot:
    """One run of the real boot.sh, as user data, against a temporary machine root."""

    root: Path
    state: Path
    http_port: int
    app_port: int
    servers: Servers
    result: subprocess.CompletedProcess = None

    def settings(self, **overrides):
        settings = {
            "STACK_NAME": "rehearsal-stack",
            "REGION": REGION,
            "CONFIG_BUCKET": BUCKET,
            "BUILD_NUMBER": BUILD,
            "ARTIFACT_URL": self.servers.artifact_url(),
            "FETCH_URL": self.servers.https.url("fetch"),
            "FETCH_SHA256": self.servers.fetch_sha256,
            "APP_NAME": "app",
            "SIGNAL_RESOURCE": "AppGroup",
        }
        settings.update(overrides)
        return settings

    def user_data(self, settings):
        """The user data exactly as the template assembles it: shebang, settings header, script."""
        for name, value in settings.items():
            assert "'" not in value, f"{name} holds a quote, which the header cannot carry"
        header = "".join(f"{name}='{value}'\n" for name, value in settings.items())
        return "#!/bin/bash\n" + header + BOOT_SH.read_text()

    def run(self, settings=None, extra_env=None):
        settings = settings if settings is not None else self.settings()
        script = self.state / "user-data"
        script.write_text(self.user_data(settings))
        env = {
            # /usr/sbin for nginx; nothing else of the caller's environment leaks in, in particular
            # no AWS_* keys (the instance role must be found through IMDS) and no CA bundle settings.
            "PATH": os.environ["PATH"] + ":/usr/sbin:/sbin",
            "HOME": str(self.state / "home"),
            "LANG": "C.UTF-8",
            "BOOT_ROOT": str(self.root),
            "BOOT_REHEARSAL": "1",
            "BOOT_REHEARSAL_HOOK": str(TESTS / "rehearsal_hook.py"),
            "BOOT_HTTP_PORT": str(self.http_port),
            "BOOT_CA_CERT": str(self.servers.ca_pem),
            "BOOT_HEALTH_TIMEOUT": "60",
            "REHEARSAL_STATE": str(self.state),
            "REHEARSAL_APP_PORT": str(self.app_port),
            "REHEARSAL_JAVA": str(TESTS / "standin_java.py"),
            "AWS_ENDPOINT_URL": self.servers.moto.endpoint,
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": self.servers.imds.endpoint,
        }
        env.update(extra_env or {})
        self.result = subprocess.run(
            ["bash", str(script)], env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL
        )
        return self.result

    def describe(self):
        """Everything needed to understand a failed assertion."""
        if self.result is None:
            return "boot.sh did not run"
        return (
            f"exit status {self.result.returncode}\n--- stdout\n{self.result.stdout}\n--- stderr\n{self.result.stderr}\n"
            f"--- commands\n{self.commands_text()}"
        )

    def commands_text(self):
        path = self.state / "commands.log"
        return path.read_text() if path.exists() else ""

    def commands(self):
        return self.commands_text().splitlines()

    def signals(self):
        path = self.state / "signals.log"
        return path.read_text().split() if path.exists() else []


@pytest.fixture
def boot(tmp_path, local_servers):
    root = tmp_path / "root"
    state = tmp_path / "state"
    for path in (root / "etc", state / "home"):
        path.mkdir(parents=True)
    (root / "etc/fstab").write_text("# rehearsal fstab\n")
    local_servers.upload_config()
    local_servers.imds.requests.clear()
    local_servers.https.hits.clear()
    run = Boot(
        root=root, state=state, http_port=servers.free_port(), app_port=servers.free_port(), servers=local_servers
    )
    try:
        yield run
    finally:
        for pid_file in ("nginx.pid", "app.pid"):
            path = state / pid_file
            if path.exists():
                servers.stop_pid(int(path.read_text().split()[0]))
