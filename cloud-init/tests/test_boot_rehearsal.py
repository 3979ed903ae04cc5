"""The boot rehearsal: the real cloud-init/boot.sh, with real downloads, in a temporary root."""

import hashlib
import json
import os
import re
import shutil
import socket
import urllib.request

import pytest

from conftest import BUCKET, BUILD, REPO, ROLE_KEYS
from servers import free_port

STEPS = [
    "check_settings",
    "install_dependencies",
    "enable_swap",
    "install_fetch",
    "create_app_user",
    "provision_app_directory",
    "copy_http_resources",
    "copy_s3_resources",
    "start_servers",
    "signal_success",
]
# No proxy from the environment may sit between the test and its loopback servers.
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get(port, path, headers=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    with DIRECT.open(request, timeout=10) as response:
        return response.status, response.headers, response.read()


def swap_size_mib(root):
    """The swap file boot.sh makes here: memory up to 4 GiB, or none when the disk lacks 1 GiB more."""
    with open("/proc/meminfo") as meminfo:
        mem_mib = int(next(line for line in meminfo if line.startswith("MemTotal:")).split()[1]) // 1024
    size = min(mem_mib, 4096)
    return size if shutil.disk_usage(root).free // 2**20 >= size + 1024 else None


def listening(port):
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_boot_serves_the_build_through_nginx_and_signals_success(boot):
    # The first apt-get call fails, as a flaky mirror would: the script must retry it.
    result = boot.run(extra_env={"REHEARSAL_APT_FAILURES": "1"})
    assert result.returncode == 0, boot.describe()
    assert boot.signals() == ["0"], boot.describe()
    assert (boot.state / "signal-args.txt").read_text().split() == [
        "--stack", "rehearsal-stack", "--resource", "AppGroup", "--region", "us-east-1", "--exit-code", "0",
    ]

    # A request through nginx reaches the app, tagged with the build; the answer is tagged too.
    status, headers, body = get(boot.http_port, "/orders/7?x=1", {"X-Forwarded-Proto": "https"})
    assert status == 200
    assert headers["X-Build-Number"] == BUILD
    assert headers["Server"] == "nginx", "nginx must not reveal its version"
    seen = json.loads(body)
    assert seen["path"] == "/orders/7?x=1"
    assert seen["headers"]["x-build-number"] == BUILD
    assert seen["headers"]["host"] == "127.0.0.1"
    assert seen["headers"]["x-real-ip"] == "127.0.0.1"
    assert seen["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert seen["headers"]["x-forwarded-proto"] == "https", "the load balancer's scheme must be kept"
    # The app runs the artifact that was downloaded, through the stable symlink.
    assert seen["jar"] == "/var/www/app/app.jar"
    assert seen["jar_sha256"] == hashlib.sha256(boot.servers.artifact.read_bytes()).hexdigest()
    status, headers, body = get(boot.http_port, "/healthz")
    assert (status, headers["X-Build-Number"], body) == (200, BUILD, b"ok\n")

    # The files on the machine.
    link = boot.root / "var/www/app/app.jar"
    assert os.readlink(link) == f"builds/{BUILD}/app-{BUILD}.jar"
    assert (boot.root / "usr/local/bin/fetch").read_bytes() == boot.servers.fetch.read_bytes()
    site = (boot.root / "etc/nginx/sites-enabled/app.conf").read_text()
    assert "@BUILD_NUMBER@" not in site
    assert site == (REPO / "nginx/app.conf").read_text().replace("@BUILD_NUMBER@", BUILD)
    assert (boot.root / "etc/systemd/system/app.service").read_bytes() == (REPO / "systemd/app.service").read_bytes()
    assert (boot.state / "app-unit.txt").read_text().startswith("User=app\n")
    swap_mib = swap_size_mib(boot.root)
    if swap_mib:
        assert (boot.root / "etc/fstab").read_text().count("/swapfile none swap sw 0 0\n") == 1
        assert oct((boot.root / "swapfile").stat().st_mode & 0o777) == "0o600"
    else:
        assert "not making a" in result.stdout and "/swapfile" not in (boot.root / "etc/fstab").read_text()

    # The config came from S3 with the instance role's credentials, found through IMDSv2.
    assert ("PUT", "/latest/api/token") in boot.servers.imds.requests
    assert boot.servers.imds.credential_requests(), boot.servers.imds.requests
    assert boot.servers.https.hits == {"/fetch": 1, f"/app-{BUILD}.jar": 1}

    # What would have changed on a real machine.
    commands = boot.commands()
    assert commands[0] == "apt-get -q -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3 update"
    assert commands.count("apt-get -q -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3 update") == 2, "the failed update is retried"
    assert any(
        c.startswith("apt-get -q -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3 install -y --no-install-recommends nginx openjdk-25-jre-headless")
        for c in commands
    )
    assert "useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app" in commands
    assert f"chown root:app {boot.root}/var/www/app" in commands
    assert f"chown root:app {boot.root}/var/www/app/builds/{BUILD}/app-{BUILD}.jar" in commands
    if swap_mib:
        assert f"fallocate -l {swap_mib}M {boot.root}/swapfile.new" in commands
        assert f"swapon {boot.root}/swapfile" in commands
    assert commands.index("nginx -t -q") < commands.index("systemctl restart app.service")
    assert commands[-1] == "cfn-signal --stack rehearsal-stack --resource AppGroup --region us-east-1 --exit-code 0"

    # One log line per step, with its duration, in order.
    logged = re.findall(r"^boot: (\w+) done in \d+\.\d{3} s$", result.stdout, re.MULTILINE)
    assert logged == STEPS, result.stdout


def test_an_instance_launched_after_the_rollout_boots_without_error(boot):
    # A scale-out or a replacement: the stack took its signals long ago and refuses more.
    result = boot.run(extra_env={"REHEARSAL_STACK_STATE": "UPDATE_COMPLETE"})
    assert result.returncode == 0, boot.describe()
    assert "is in UPDATE_COMPLETE state and cannot be signaled" in result.stdout, boot.describe()
    assert "the stack is not waiting for this instance's signal" in result.stdout, boot.describe()
    assert "attempt 1 of 3 failed" not in result.stdout, "a refusal is not retried"
    assert boot.signals() == [], "nothing was signalled"
    status, headers, _ = get(boot.http_port, "/")
    assert (status, headers["X-Build-Number"]) == (200, BUILD)


def test_boot_twice_changes_nothing_and_serves_again(boot):
    assert boot.run().returncode == 0, boot.describe()
    first = boot.commands()
    assert boot.run().returncode == 0, boot.describe()
    assert boot.signals() == ["0", "0"]
    # The second run finds swap, fetch and the pinned artifact in place and gets none of them again.
    second = boot.commands()[len(first):]
    assert not [c for c in second if c.startswith(("fallocate", "mkswap"))], second
    assert "using the fetch baked into the image" in boot.result.stdout
    assert boot.servers.https.hits == {"/fetch": 1, f"/app-{BUILD}.jar": 1}
    assert f"app-{BUILD}.jar (already present)" in boot.result.stdout + boot.result.stderr, boot.describe()
    assert (boot.root / "etc/fstab").read_text().count("/swapfile") == (1 if swap_size_mib(boot.root) else 0)
    status, headers, _ = get(boot.http_port, "/")
    assert (status, headers["X-Build-Number"]) == (200, BUILD)


def test_wrong_artifact_checksum_signals_failure_and_starts_nothing(boot):
    # fetch is baked into this image, so only the artifact is downloaded.
    (boot.root / "usr/local/bin").mkdir(parents=True)
    shutil.copy(boot.servers.fetch, boot.root / "usr/local/bin/fetch")
    settings = boot.settings(ARTIFACT_URL=boot.servers.artifact_url(sha256="0" * 64), FETCH_URL="", FETCH_SHA256="")

    result = boot.run(settings)

    assert result.returncode != 0, boot.describe()
    assert len(boot.signals()) == 1 and boot.signals()[0] != "0", boot.describe()
    assert "boot: step copy_http_resources failed after" in result.stdout, boot.describe()
    commands = boot.commands()
    assert not [c for c in commands if c.startswith(("systemctl", "nginx"))], commands
    assert not (boot.state / "app.pid").exists() and not (boot.state / "nginx.pid").exists()
    assert not listening(boot.http_port) and not listening(boot.app_port)
    assert not os.path.lexists(boot.root / "var/www/app/app.jar")
    assert not (boot.root / f"var/www/app/builds/{BUILD}/app-{BUILD}.jar").exists()
    assert not (boot.root / "etc/nginx/sites-enabled").exists()
    assert boot.servers.https.hits.get(f"/app-{BUILD}.jar"), "the artifact must really have been downloaded"


def test_fetch_comes_from_the_config_bucket_with_the_instance_role(boot):
    """With no FETCH_URL, fetch is the build's builds/<N>/fetch, signed with the role's keys."""
    boot.servers.upload_fetch()
    result = boot.run(boot.settings(FETCH_URL=""))
    assert result.returncode == 0, boot.describe()
    assert boot.signals() == ["0"], boot.describe()
    assert f"installed fetch from s3://{BUCKET}/builds/{BUILD}/fetch (sha256 {boot.servers.fetch_sha256})" in result.stdout
    assert "/fetch" not in boot.servers.https.hits
    role = "/latest/meta-data/iam/security-credentials/"
    assert ("GET", role + boot.servers.imds.ROLE) in boot.servers.imds.requests
    assert ROLE_KEYS[1] not in result.stdout + result.stderr + boot.commands_text()


@pytest.mark.parametrize("source", ["url", "bucket"])
def test_fetch_binary_with_wrong_checksum_is_never_installed(boot, source):
    boot.servers.upload_fetch()
    fetch_url = {"url": boot.servers.https.url("fetch"), "bucket": ""}[source]
    result = boot.run(boot.settings(FETCH_URL=fetch_url, FETCH_SHA256="f" * 64))

    assert result.returncode != 0, boot.describe()
    assert boot.signals() == ["1"], boot.describe()
    assert "does not match FETCH_SHA256; it was deleted without being run" in result.stderr, boot.describe()
    assert not list((boot.root / "usr/local/bin").iterdir())
    assert f"/app-{BUILD}.jar" not in boot.servers.https.hits


def test_bad_setting_fails_with_one_clear_line_before_changing_anything(boot):
    result = boot.run(boot.settings(BUILD_NUMBER="../42"))

    assert result.returncode != 0
    assert boot.signals() == ["1"], boot.describe()
    errors = [line for line in result.stderr.splitlines() if line.startswith("boot: error:")]
    assert errors == ["boot: error: BUILD_NUMBER '../42' may hold only letters, digits, '.', '_' and '-'."]
    assert [c.split()[0] for c in boot.commands()] == ["cfn-signal"]


def test_unit_for_another_app_is_refused(boot):
    """The unit in S3 runs /var/www/app/app.jar; an instance told APP_NAME=shop must not start it."""
    result = boot.run(boot.settings(APP_NAME="shop"))
    assert result.returncode != 0, boot.describe()
    assert "app.service does not run /var/www/shop/shop.jar" in result.stderr, boot.describe()
    assert "boot: step copy_s3_resources failed after" in result.stdout, boot.describe()
    assert boot.signals() == ["1"]
    assert not [c for c in boot.commands() if c.startswith("systemctl")]


def test_missing_settings_are_named(boot):
    settings = boot.settings()
    del settings["CONFIG_BUCKET"], settings["ARTIFACT_URL"]
    result = boot.run(settings)
    assert result.returncode != 0
    assert "settings missing from the user data header: CONFIG_BUCKET ARTIFACT_URL" in result.stderr, boot.describe()
    assert boot.signals() == ["1"]


def test_temporary_root_without_rehearsal_mode_is_refused(boot):
    result = boot.run(extra_env={"BOOT_REHEARSAL": "0"})
    assert result.returncode != 0
    assert "BOOT_REHEARSAL must be 0 or 1" in result.stderr
    assert boot.commands() == [] and boot.signals() == []


def test_instance_role_credentials_are_the_only_ones(boot):
    """The S3 download must fail when the metadata endpoint has no role: no other keys exist."""
    nobody_listens = f"http://127.0.0.1:{free_port()}"
    boot.run(extra_env={"AWS_EC2_METADATA_SERVICE_ENDPOINT": nobody_listens})
    assert boot.result.returncode != 0, boot.describe()
    assert "boot: step copy_s3_resources failed after" in boot.result.stdout, boot.describe()
    assert boot.signals() == ["1"]
    assert ROLE_KEYS[0] not in boot.result.stdout + boot.result.stderr


def test_java_is_chosen_by_installation_candidate(boot):
    """A name apt only knows from other packages' relations (openjdk-25 here) is not picked."""
    result = boot.run(extra_env={"REHEARSAL_APT_MISSING": "openjdk-25-jre-headless"})
    assert result.returncode == 0, boot.describe()
    installs = [c for c in boot.commands() if c.startswith("apt-get") and " install " in c]
    assert len(installs) == 1 and " openjdk-21-jre-headless " in installs[0], boot.describe()


def test_a_package_the_sources_lack_fails_at_once(boot):
    """"No installation candidate" cannot heal: one attempt, the reason, a failure signal."""
    result = boot.run(extra_env={"REHEARSAL_APT_MISSING": "python3-venv"})
    assert result.returncode != 0, boot.describe()
    installs = [c for c in boot.commands() if c.startswith("apt-get") and " install " in c]
    assert len(installs) == 1, boot.describe()
    assert "Package 'python3-venv' has no installation candidate" in result.stderr, boot.describe()
    assert "boot: step install_dependencies failed after" in result.stdout, boot.describe()
    assert boot.signals() == ["1"], boot.describe()


def test_refused_swap_is_a_warning_not_a_failure(boot):
    if not swap_size_mib(boot.root):
        # No swap file is made on a disk this full, so swapon is never asked.
        assert "not making a" in boot.run().stdout, boot.describe()
        return
    result = boot.run(extra_env={"REHEARSAL_SWAP_REFUSED": "1"})
    assert result.returncode == 0, boot.describe()
    assert "boot: warning: the kernel refused swap on /swapfile; going on without it" in result.stdout
    assert "/swapfile" not in (boot.root / "etc/fstab").read_text(), "later boots must not try it again"
    assert boot.signals() == ["0"], boot.describe()
