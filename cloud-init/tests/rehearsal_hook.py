#!/usr/bin/env python3
"""Stands in for the commands that change the machine when boot.sh runs with BOOT_REHEARSAL=1.

boot.sh calls `BOOT_REHEARSAL_HOOK <command> <args...>` instead of apt-get, useradd, chown, swap
tools, nginx, systemctl and cfn-signal. Each call is recorded, one line per call, in
$REHEARSAL_STATE/commands.log; cfn-signal's exit code goes to $REHEARSAL_STATE/signals.log.
Service control does the local equivalent: `systemctl restart app.service` runs the installed unit's
ExecStart with `java` swapped for the stand-in $REHEARSAL_JAVA, `systemctl restart nginx` starts the
real nginx with the installed site, moved to free loopback ports ($BOOT_HTTP_PORT, and
$REHEARSAL_APP_PORT for the app).
"""

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(os.environ["BOOT_ROOT"])
STATE = Path(os.environ["REHEARSAL_STATE"])
HTTP_PORT = os.environ["BOOT_HTTP_PORT"]
APP_PORT = os.environ["REHEARSAL_APP_PORT"]
JAVA = os.environ["REHEARSAL_JAVA"]
NGINX_PID = STATE / "nginx.pid"
APP_PID = STATE / "app.pid"


def fail(message):
    print(f"rehearsal hook: {message}", file=sys.stderr)
    sys.exit(2)


def record(argv):
    with open(STATE / "commands.log", "a") as log:
        log.write(shlex.join(argv) + "\n")


def counter(name):
    """How many times a command has run in this rehearsal, this call included."""
    path = STATE / f"count-{name}"
    count = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(count))
    return count


def alive(pid_file):
    try:
        pid = int(pid_file.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None
    try:
        with open(f"/proc/{pid}/stat") as stat:
            if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                return None
    except FileNotFoundError:
        return None
    return pid


def stop(pid_file):
    pid = alive(pid_file)
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while alive(pid_file) == pid and time.monotonic() < deadline:
        time.sleep(0.05)
    if alive(pid_file) == pid:
        os.kill(pid, signal.SIGKILL)


def replace_once(text, old, new, what):
    if text.count(old) != 1:
        fail(f"the installed site should contain {old!r} exactly once ({what}), found {text.count(old)}")
    return text.replace(old, new)


def nginx_conf():
    """A main nginx.conf that includes the installed site, moved to the rehearsal's free ports."""
    sites = sorted((ROOT / "etc/nginx/sites-enabled").glob("*"))
    if [site.name for site in sites] != ["app.conf"]:
        fail(f"expected exactly one enabled site, app.conf; found {[site.name for site in sites]}")
    site = sites[0].read_text()
    site = replace_once(site, "listen 80 default_server;", f"listen 127.0.0.1:{HTTP_PORT} default_server;", "IPv4 listener")
    site = replace_once(site, "listen [::]:80 default_server;", "", "IPv6 listener")
    site = replace_once(site, "server 127.0.0.1:8080;", f"server 127.0.0.1:{APP_PORT};", "app upstream")
    (STATE / "site.conf").write_text(site)
    temp = STATE / "nginx-temp"
    temp.mkdir(exist_ok=True)
    conf = STATE / "nginx.conf"
    conf.write_text(
        f"""pid {NGINX_PID};
error_log {STATE / "nginx-error.log"};
events {{}}
http {{
    access_log {STATE / "nginx-access.log"};
    client_body_temp_path {temp}/client_body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {STATE / "site.conf"};
}}
"""
    )
    return ["nginx", "-p", str(STATE), "-e", str(STATE / "nginx-error.log"), "-c", str(conf)]


def wait_for_pid(pid_file, timeout=10):
    deadline = time.monotonic() + timeout
    while alive(pid_file) is None:
        if time.monotonic() > deadline:
            fail(f"no live process in {pid_file} after {timeout}s")
        time.sleep(0.05)


def start_app(unit_name):
    """Runs the installed unit's ExecStart, with the stand-in in place of java."""
    unit = ROOT / "etc/systemd/system" / unit_name
    settings = {}
    for line in unit.read_text().splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), value.strip())
    argv = shlex.split(settings["ExecStart"])
    if argv[0] != "/usr/bin/java":
        fail(f"the unit's ExecStart should start /usr/bin/java, found {argv[0]!r}")
    (STATE / "app-unit.txt").write_text(f"User={settings.get('User')}\nExecStart={settings['ExecStart']}\n")
    stop(APP_PID)
    env = {"PATH": os.environ["PATH"], "APP_PORT": APP_PORT, "BOOT_ROOT": str(ROOT)}
    with open(STATE / "app.log", "ab") as log:
        process = subprocess.Popen(
            [JAVA, *argv[1:]], env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    APP_PID.write_text(str(process.pid))


def systemctl(args):
    verb = args[0]
    unit = args[-1]
    if verb in ("daemon-reload", "enable"):
        return 0
    if verb == "is-failed":
        # Failed = started and no longer running.
        return 0 if APP_PID.exists() and alive(APP_PID) is None else 1
    if unit == "nginx" and verb == "try-reload-or-restart":
        if alive(NGINX_PID) is None:
            return 0
        return subprocess.call([*nginx_conf(), "-s", "reload"])
    if unit == "nginx" and verb == "restart":
        stop(NGINX_PID)
        # nginx detaches into the background; its output goes to a file so that it never holds
        # the boot script's output pipes open.
        output = STATE / "nginx-start.log"
        with open(output, "wb") as log:
            status = subprocess.call(nginx_conf(), stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        if status != 0:
            sys.stderr.write(output.read_text())
            return status
        wait_for_pid(NGINX_PID)
        return 0
    if unit == "app.service" and verb == "restart":
        start_app(unit)
        return 0
    fail(f"unexpected systemctl call: {shlex.join(args)}")


def main(argv):
    if not argv:
        fail("called without a command")
    record(argv)
    command, args = argv[0], argv[1:]
    # REHEARSAL_APT_MISSING: packages the sources only refer to (no installation candidate).
    missing = os.environ.get("REHEARSAL_APT_MISSING", "").split()
    if command == "apt-get":
        # REHEARSAL_APT_FAILURES=N makes the first N apt-get calls fail, like a flaky mirror.
        if counter("apt-get") <= int(os.environ.get("REHEARSAL_APT_FAILURES", "0")):
            print("E: Failed to fetch (rehearsal: simulated mirror failure)", file=sys.stderr)
            return 100
        for package in args[args.index("install") + 1 :] if "install" in args else []:
            if package in missing:
                print(f"E: Package '{package}' has no installation candidate", file=sys.stderr)
                return 100
        return 0
    if command == "apt-cache":
        # `apt-cache policy NAME` as apt prints it: a version, or "(none)" for a name only referred to.
        if args[:1] != ["policy"] or len(args) != 2:
            fail(f"unexpected apt-cache call: {shlex.join(args)}")
        print(f"{args[1]}:\n  Installed: (none)\n  Candidate: {'(none)' if args[1] in missing else '1.0-1'}")
        return 0
    if command in ("useradd", "chown", "mkswap"):
        return 0
    if command == "swapon":
        # `swapon --show` prints active swap areas: there are none on the rehearsal's machine.
        # REHEARSAL_SWAP_REFUSED=1: the kernel refuses to swap on a file, as in a container.
        if args[:1] != ["--show"] and os.environ.get("REHEARSAL_SWAP_REFUSED") == "1":
            print(f"swapon: {args[-1]}: swapon failed: Operation not permitted", file=sys.stderr)
            return 255
        return 0
    if command == "fallocate":
        Path(args[-1]).touch()
        return 0
    if command == "nginx":
        if args not in (["-t"], ["-t", "-q"]):
            fail(f"unexpected nginx call: {shlex.join(args)}")
        return subprocess.call([*nginx_conf(), *args])
    if command == "systemctl":
        return systemctl(args)
    if command == "cfn-signal":
        options = dict(zip(args[::2], args[1::2]))
        # REHEARSAL_STACK_STATE=UPDATE_COMPLETE: the stack no longer waits for signals, as for an
        # instance launched after the rollout; CloudFormation's answer, as cfn-signal prints it.
        state = os.environ.get("REHEARSAL_STACK_STATE")
        if state:
            print(
                f"ValidationError: Stack arn:aws:cloudformation:{options['--region']}:123456789012:stack/"
                f"{options['--stack']}/0a1b2c3d is in {state} state and cannot be signaled",
                file=sys.stderr,
            )
            return 1
        with open(STATE / "signals.log", "a") as log:
            log.write(options["--exit-code"] + "\n")
        (STATE / "signal-args.txt").write_text(shlex.join(args) + "\n")
        return 0
    fail(f"no stand-in for {command!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
