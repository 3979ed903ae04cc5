"""A real Debian first boot: systemd as PID 1 of a systemd-nspawn container, cloud-init reading a
NoCloud seed, on a host whose own PID 1 need not be systemd.

The container shares the host's network (an instance's nginx and app bind the host's ports 80
and 8080) and runs in a cgroup of its own, which is removed afterwards with everything else.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

PORTS = (80, 8080)
CONTAINER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
INSTALL_HINT = "apt-get install -y --no-install-recommends debootstrap systemd-container"


class HostNotReady(Exception):
    """The host lacks something a real boot needs; the message is one line saying what to do."""


def _cgroup_mounts():
    """(filesystem type, mount point) of every cgroup hierarchy the host mounts."""
    with open("/proc/self/mountinfo") as mounts:
        for line in mounts:
            fields = line.split()
            fstype = fields[fields.index("-") + 1]
            if fstype in ("cgroup", "cgroup2"):
                yield fstype, Path(fields[4])


def cgroup2_mount():
    """Where the host mounts cgroup v2: /sys/fs/cgroup on a unified host, .../unified on a hybrid one."""
    return next((path for fstype, path in _cgroup_mounts() if fstype == "cgroup2"), None)


def check_host():
    """Raises HostNotReady naming the first missing requirement of a real boot."""
    if os.geteuid() != 0:
        raise HostNotReady("a real boot needs root: run the tests as root (sudo -E python3 -m pytest ...)")
    missing = [tool for tool in ("systemd-nspawn", "debootstrap", "nsenter") if not shutil.which(tool)]
    if missing:
        raise HostNotReady(f"a real boot needs {', '.join(missing)}: {INSTALL_HINT}")
    if cgroup2_mount() is None:
        raise HostNotReady("a real boot needs a cgroup2 mount: mount -t cgroup2 none /sys/fs/cgroup/unified")
    for port in PORTS:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("0.0.0.0", port))
            except OSError:
                raise HostNotReady(
                    f"port {port} is taken (the container shares the host's network and its services bind "
                    f"ports {' and '.join(map(str, PORTS))}): stop whatever listens there (ss -ltnp 'sport = :{port}')"
                ) from None


def _systemd_quote(name, value):
    if "\n" in value or "\n" in name or "=" in name:
        raise ValueError(f"cannot put {name!r} in DefaultEnvironment=")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{name}={escaped}"'


class Container:
    """One booted container made from a base rootfs tarball; use it as a context manager.

    Before boot(): put(), set_default_environment(), seed(), add_ca_certs() write into the rootfs.
    Leaving the context powers the container off and removes the processes, cgroup and rootfs.
    """

    def __init__(self, base_tarball, console_log=None):
        self.base_tarball = Path(base_tarball)
        self.name = f"real-boot-{uuid.uuid4().hex[:8]}"
        self.console_log = Path(console_log or Path(tempfile.gettempdir()) / f"{self.name}.console.log")
        self.workdir = self.root = self.cgroup = self.nspawn = self.init_pid = None
        self.timings = {}

    # -- before boot ---------------------------------------------------------------------------

    def __enter__(self):
        check_host()
        self._previous_sigterm = None
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:  # so a killed test still cleans up
            self._previous_sigterm = signal.signal(signal.SIGTERM, _raise_interrupt)
        try:
            self.workdir = Path(tempfile.mkdtemp(prefix=f"{self.name}-", dir=os.environ.get("REAL_BOOT_TMP")))
            self.root = self.workdir / "root"
            self.root.mkdir()
            start = time.monotonic()
            subprocess.run(["tar", "--numeric-owner", "--xattrs", "--xattrs-include=*", "--acls",
                            "-C", str(self.root), "-xpf", str(self.base_tarball)], check=True)
            self.timings["extract"] = time.monotonic() - start
        except BaseException:
            self.close()
            raise
        return self

    def put(self, path, data: bytes, mode=0o644):
        """Writes a file into the rootfs before boot (path as the container sees it)."""
        target = self.root / str(path).lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.parent.resolve().is_relative_to(self.root.resolve()):  # e.g. /var/run -> /run
            raise ValueError(f"{path} leads out of the rootfs through a symlink: give the path it points to")
        target.write_bytes(data)
        target.chmod(mode)
        return target

    def set_default_environment(self, variables: dict):
        """Gives every unit of the container these variables (systemd's DefaultEnvironment=)."""
        line = " ".join(_systemd_quote(k, v) for k, v in variables.items())
        self.put("/etc/systemd/system.conf.d/50-real-boot.conf", f"[Manager]\nDefaultEnvironment={line}\n".encode())

    def seed(self, user_data: bytes, instance_id=None):
        """The NoCloud seed cloud-init reads at first boot."""
        instance_id = instance_id or f"i-{uuid.uuid4().hex[:17]}"
        seed = "/var/lib/cloud/seed/nocloud"
        self.put(f"{seed}/meta-data", f"instance-id: {instance_id}\nlocal-hostname: {self.name}\n".encode())
        self.put(f"{seed}/user-data", user_data)

    def add_ca_certs(self, pems: dict):
        """Trusts these CA certificates (name -> PEM bytes) in the container, as an AMI could."""
        for name, pem in pems.items():
            self.put(f"/usr/local/share/ca-certificates/{name}.crt", pem)
        subprocess.run(["chroot", str(self.root), "update-ca-certificates"], check=True,
                       env={"PATH": CONTAINER_PATH}, stdout=subprocess.DEVNULL)

    # -- running -------------------------------------------------------------------------------

    def nspawn_command(self):
        """--keep-unit: with no systemd on the host there is no bus to ask for a scope unit;
        --console=read-only: the console goes to the log without a terminal."""
        return ["systemd-nspawn", "-D", str(self.root), "-b", f"--machine={self.name}",
                "--register=no", "--keep-unit", "--console=read-only", "--link-journal=no",
                "--system-call-filter=@swap"]

    def boot(self, timeout=30):
        """Starts systemd-nspawn in the background, in a cgroup of its own; returns once PID 1 runs."""
        self.cgroup = cgroup2_mount() / self.name
        self.cgroup.mkdir()
        procs = str(self.cgroup / "cgroup.procs")

        def into_cgroup():
            with open(procs, "w") as f:
                f.write("0")

        env = dict(os.environ, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY="1")
        with open(self.console_log, "wb") as log:
            self.boot_started = time.monotonic()
            self.nspawn = subprocess.Popen(self.nspawn_command(), stdin=subprocess.DEVNULL, stdout=log,
                                           stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                           preexec_fn=into_cgroup)
        deadline = time.monotonic() + timeout
        while (pid := self._init_pid()) is None:
            if self.nspawn.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"systemd-nspawn did not start the container; its console:\n{self.console_tail()}")
            time.sleep(0.1)
        self.init_pid = pid

    def _init_pid(self):
        """The container's PID 1, seen from the host: the nspawn child whose innermost PID is 1."""
        try:
            children = Path(f"/proc/{self.nspawn.pid}/task/{self.nspawn.pid}/children").read_text().split()
            for child in children:
                for line in Path(f"/proc/{child}/status").read_text().splitlines():
                    if line.startswith("NSpid:") and line.split()[-1] == "1" and len(line.split()) > 2:
                        return int(child)
        except FileNotFoundError:
            pass
        return None

    def exec(self, cmd, timeout=60, check=False):
        """Runs cmd (an argv list) inside the running container, in all of PID 1's namespaces."""
        return subprocess.run(["nsenter", "-t", str(self.init_pid), "-a", "--", *cmd], capture_output=True,
                              text=True, timeout=timeout, check=check, env={"PATH": CONTAINER_PATH, "LANG": "C.UTF-8"})

    def wait_cloud_init(self, timeout=300):
        """Waits for cloud-init's first boot to end; the CompletedProcess of `cloud-init status --wait --long`."""
        done = self.exec(["cloud-init", "status", "--wait", "--long"], timeout=timeout)
        self.timings["boot to cloud-init done"] = time.monotonic() - self.boot_started
        return done

    def console_tail(self, lines=40):
        try:
            return "\n".join(self.console_log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no console log)"

    # -- cleanup -------------------------------------------------------------------------------

    def __exit__(self, *exc):
        self.close()

    def close(self, poweroff_timeout=60):
        """Powers off, kills what is left, swapoffs the rootfs's swap, removes cgroup and rootfs."""
        start = time.monotonic()
        try:
            if self.nspawn is not None:
                self._stop(poweroff_timeout)
            if self.cgroup is not None:
                self._remove_cgroups()
            if self.root is not None:
                self._swapoff()
            if self.workdir is not None:
                self._remove_workdir()
        finally:
            if getattr(self, "_previous_sigterm", None) is not None:
                signal.signal(signal.SIGTERM, self._previous_sigterm)
                self._previous_sigterm = None
        self.timings["shutdown and cleanup"] = time.monotonic() - start

    def _stop(self, timeout):
        start = time.monotonic()
        if self.nspawn.poll() is None:
            pid = self._init_pid()
            if pid is not None:
                os.kill(pid, signal.SIGRTMIN + 4)  # systemd: poweroff
            try:
                self.nspawn.wait(timeout if pid is not None else 0)
            except subprocess.TimeoutExpired:
                os.killpg(self.nspawn.pid, signal.SIGKILL)  # nspawn's group, while nspawn is unreaped
                self.nspawn.wait()
        self.timings["poweroff"] = time.monotonic() - start
        self.nspawn = None  # what is left in its cgroups, _remove_cgroups kills

    def cgroups(self):
        """The container's cgroup in every hierarchy: nspawn mirrors it into v1's name=systemd one."""
        return [path / self.name for _, path in _cgroup_mounts() if (path / self.name).is_dir()]

    def _cgroup_pids(self):
        return [int(pid) for cgroup in self.cgroups() for procs in cgroup.rglob("cgroup.procs")
                for pid in procs.read_text().split()]

    def _remove_cgroups(self):
        deadline = time.monotonic() + 10
        while pids := self._cgroup_pids():  # killed processes leave their cgroup once they are reaped
            if time.monotonic() > deadline:
                raise RuntimeError(f"processes {pids} outlived SIGKILL in the cgroups {self.cgroups()}")
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)
        for cgroup in self.cgroups():
            for directory in sorted((p for p in cgroup.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                directory.rmdir()
            cgroup.rmdir()
        self.cgroup = None

    def _swapoff(self):
        """The kernel's swap outlives the container: swapoff any swap file of the rootfs."""
        with open("/proc/swaps") as swaps:
            names = [line.split()[0].encode().decode("unicode_escape") for line in list(swaps)[1:]]
        for name in names:
            path = Path(name) if name.startswith(str(self.root)) else self.root / name.lstrip("/")
            if path.is_file() and path.resolve().is_relative_to(self.root.resolve()):  # never the host's swap
                subprocess.run(["swapoff", str(path)], stderr=subprocess.DEVNULL)

    def _remove_workdir(self):
        with open("/proc/self/mountinfo") as mounts:
            inside = [m.split()[4] for m in mounts if m.split()[4].startswith(str(self.workdir))]
        if inside:
            raise RuntimeError(f"not removing {self.workdir}: mounts below it: {inside}")
        shutil.rmtree(self.workdir)
        self.workdir = self.root = None


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")
