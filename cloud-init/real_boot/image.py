"""The prepared Debian 13 root filesystem a real first boot starts from, cached as a tarball.

Making it takes about two minutes (debootstrap, then cloud-init into the image); unpacking the
cached tarball takes seconds, so every boot after the first starts from the cache.
"""

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Change this string whenever the recipe below changes in a way the key does not capture.
RECIPE = "2"
SUITE = "trixie"
MIRROR = "http://deb.debian.org/debian"
BOOTSTRAP_PACKAGES = "systemd,systemd-sysv,dbus,ca-certificates,openssh-client"
# cloud-init cannot go into debootstrap's --include (its dependencies do not resolve there);
# iproute2 because cloud-init reports its absence as a recoverable error (status "degraded done").
IMAGE_PACKAGES = ("cloud-init", "curl", "locales", "iproute2")
LOCALE = "en_US.UTF-8"

# What the instance's apt sees, as on Debian's own cloud images.
SOURCES = f"""\
Types: deb
URIs: {MIRROR}
Suites: {SUITE} {SUITE}-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: {SUITE}-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""

# NoCloud only (no probing for EC2's metadata service); the container shares the host's network,
# so cloud-init must not configure it; apt keeps the sources above.
CLOUD_CFG = """\
datasource_list: [NoCloud, None]
network: {config: disabled}
apt: {preserve_sources_list: true}
"""


def _key():
    recipe = "\n".join((RECIPE, SUITE, MIRROR, BOOTSTRAP_PACKAGES, *IMAGE_PACKAGES, LOCALE, SOURCES, CLOUD_CFG))
    return f"{SUITE}-base-r{RECIPE}-{hashlib.sha256(recipe.encode()).hexdigest()[:12]}"


def _log(message):
    print(f"real-boot image: {message}", file=sys.stderr, flush=True)


def _phase(name, argv, **kwargs):
    """Runs one build step, logging its duration; its output goes to stderr."""
    start = time.monotonic()
    subprocess.run(argv, check=True, stdout=sys.stderr, **kwargs)
    _log(f"{name}: {time.monotonic() - start:.1f} s")


def _in_chroot(name, root, script):
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive"}
    _phase(name, ["chroot", str(root), "sh", "-ec", script], env=env)


def _build(root):
    _phase("debootstrap", ["debootstrap", "--variant=minbase", f"--include={BOOTSTRAP_PACKAGES}",
                           SUITE, str(root), MIRROR])
    (root / "etc/apt/sources.list").unlink(missing_ok=True)
    (root / "etc/apt/sources.list.d/debian.sources").write_text(SOURCES)
    _in_chroot("apt install", root,
               "apt-get -q update; apt-get -q install -y --no-install-recommends " + " ".join(IMAGE_PACKAGES))
    (root / "etc/locale.gen").write_text(f"{LOCALE} UTF-8\n")
    (root / "etc/default/locale").write_text(f"LANG={LOCALE}\n")
    _in_chroot("locale-gen", root, "locale-gen; apt-get clean; rm -rf /var/lib/apt/lists/*")
    (root / "etc/cloud/cloud.cfg.d/90-rehearsal.cfg").write_text(CLOUD_CFG)
    # Each boot is a new machine, as an instance made from an AMI is (debootstrap copied the host's name).
    (root / "etc/hostname").write_text("localhost\n")
    (root / "etc/machine-id").write_text("")
    (root / "var/lib/dbus/machine-id").unlink(missing_ok=True)
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()


def prepared_base(cache_dir) -> Path:
    """The tarball of the prepared base rootfs in cache_dir, built first when absent.

    Built under a temporary name and renamed, so an interrupted build never leaves a bad cache;
    a lock keeps two builds from running at once.
    """
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tarball = cache_dir / f"{_key()}.tar"
    with open(cache_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if tarball.exists():
            _log(f"cached {tarball.name}")
            return tarball
        for stale in cache_dir.glob(".build-*"):  # left by a build that was killed
            shutil.rmtree(stale, ignore_errors=True)
        work = Path(tempfile.mkdtemp(prefix=".build-", dir=cache_dir))
        try:
            _log(f"building {tarball.name} (recipe {RECIPE}) in {work}")
            root = work / "root"
            root.mkdir()
            _build(root)
            partial = work / "base.tar"
            _phase("tar", ["tar", "--numeric-owner", "--xattrs", "--xattrs-include=*", "--acls",
                           "-C", str(root), "-cf", str(partial), "."])
            os.replace(partial, tarball)
            for old in cache_dir.glob(f"{SUITE}-base-*.tar"):  # made by an older recipe
                if old != tarball:
                    old.unlink()
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return tarball
