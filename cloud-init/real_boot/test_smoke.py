"""The real boot itself works: systemd boots the image, cloud-init runs the user data with the
environment given, and nothing is left once the container is gone."""

import os
import sys

from container import Container

USER_DATA = b"""#!/bin/bash
set -eu
env > /var/tmp/booted
echo "real-boot smoke: user data ran with FOO=$FOO"
"""


def test_first_boot_runs_user_data_and_leaves_nothing(base_image, tmp_path):
    with Container(base_image, console_log=tmp_path / "console.log") as box:
        box.set_default_environment({"FOO": "bar"})
        box.seed(USER_DATA)
        box.boot()
        nspawn_pid, cgroup, workdir = box.nspawn.pid, box.cgroup, box.workdir

        status = box.wait_cloud_init(timeout=300)
        assert status.returncode == 0 and "status: done" in status.stdout, status.stdout + status.stderr
        booted = box.root / "var/tmp/booted"
        assert booted.is_file()
        assert "FOO=bar" in booted.read_text().splitlines()
        output = box.exec(["cat", "/var/log/cloud-init-output.log"]).stdout
        assert "real-boot smoke: user data ran with FOO=bar" in output
        state = box.exec(["systemctl", "is-system-running", "--wait"], timeout=120).stdout.strip()
        if state != "running":
            print(box.exec(["systemctl", "--failed", "--no-legend"]).stdout, file=sys.stderr)
        assert state in ("running", "degraded")

    print(f"timings: {', '.join(f'{k} {v:.1f} s' for k, v in box.timings.items())}", file=sys.stderr)
    assert not os.path.exists(f"/proc/{nspawn_pid}")
    assert not cgroup.exists() and box.cgroups() == []
    assert not os.path.exists(f"/run/systemd/nspawn/propagate/{box.name}")
    assert not workdir.exists()
