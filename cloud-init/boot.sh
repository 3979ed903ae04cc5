#!/bin/bash
# What a new instance of the app does at boot (cloud-init user data).
#
# asg-deploy prepends a settings header of single-quoted shell assignments, one per line:
#   STACK_NAME REGION CONFIG_BUCKET BUILD_NUMBER ARTIFACT_URL FETCH_URL FETCH_SHA256 APP_NAME SIGNAL_RESOURCE
# Each step logs its name and duration and can run again. The stack hears "success" once /healthz
# answers through nginx; any failure signals "failure" at once, so it rolls back without waiting.
#
# cloud-init/tests/: BOOT_REHEARSAL=1 writes under BOOT_ROOT, system commands go to BOOT_REHEARSAL_HOOK.
set -Eeuo pipefail
shopt -s inherit_errexit

readonly CFN_BOOTSTRAP_URL=https://s3.amazonaws.com/cloudformation-examples/aws-cfn-bootstrap-py3-latest.tar.gz
# Swap equals memory up to this size, so large instances keep their disk.
readonly SWAP_MAX_MIB=4096
readonly SWAP_FILE=/swapfile

BOOT_ROOT=${BOOT_ROOT:-}
BOOT_REHEARSAL=${BOOT_REHEARSAL:-0}
# nginx's port, for the health check (the rehearsal moves it).
BOOT_HTTP_PORT=${BOOT_HTTP_PORT:-80}
# CA of the rehearsal's HTTPS server; empty on instances (system roots).
BOOT_CA_CERT=${BOOT_CA_CERT:-}
# Seconds the app gets to answer /healthz through nginx after it is started.
BOOT_HEALTH_TIMEOUT=${BOOT_HEALTH_TIMEOUT:-300}

APP_NAME=${APP_NAME:-app}
FETCH_URL=${FETCH_URL:-}
FETCH_SHA256=${FETCH_SHA256:-}

current_step=
step_started=
signalled=no
fetch_bin=
artifact_file=

log() {
  printf 'boot: %s\n' "$*"
}

die() {
  printf 'boot: error: %s\n' "$*" >&2
  exit 1
}

now_us() {
  local t=$EPOCHREALTIME
  printf '%s' "${t//[.,]/}"
}

# Seconds since a now_us timestamp, with millisecond precision.
elapsed_since() {
  local us=$(($(now_us) - $1))
  printf '%d.%03d s' $((us / 1000000)) $((us % 1000000 / 1000))
}

# retry N CMD...: runs CMD up to N times, waiting 2, 4, 8... (at most 30) s between.
retry() {
  local attempts=$1 attempt=1 delay=2
  shift
  until "$@"; do
    if ((attempt >= attempts)); then
      log "giving up after $attempt attempts: $*"
      return 1
    fi
    log "attempt $attempt of $attempts failed, retrying in ${delay}s: $*"
    sleep "$delay"
    attempt=$((attempt + 1))
    delay=$((delay < 15 ? delay * 2 : 30))
  done
}

# Tells CloudFormation whether this instance came up: 0 = success, anything else = failure.
signal_stack() {
  retry 3 signal_once "$1"
}

# One cfn-signal. After the rollout the stack "cannot be signaled": not a failure, nor worth a retry.
signal_once() {
  local answer status=0
  answer=$(cfn-signal --stack "$STACK_NAME" --resource "$SIGNAL_RESOURCE" --region "$REGION" --exit-code "$1" 2>&1) || status=$?
  if [[ -n $answer ]]; then
    printf '%s\n' "$answer"
  fi
  if ((status != 0)) && [[ $answer == *"cannot be signaled"* ]]; then
    log "the stack is not waiting for this instance's signal (it came after the rollout); none sent"
    return 0
  fi
  return "$status"
}

on_error() {
  # A function that returns non-zero (retry, for one) has already said what failed.
  [[ $BASH_COMMAND == return* ]] || log "command failed with status $1 at line $2: $BASH_COMMAND"
}

on_exit() {
  local status=$?
  trap - ERR
  if ((status != 0)) && [[ $signalled == no ]]; then
    log "step ${current_step:-startup} failed after $(elapsed_since "${step_started:-$(now_us)}"); signalling failure"
    signalled=failure
    if [[ -n ${STACK_NAME:-} && -n ${REGION:-} && -n ${SIGNAL_RESOURCE:-} ]] && command -v cfn-signal >/dev/null; then
      signal_stack "$status" || log "could not signal failure; the stack will wait for its timeout"
    else
      log "cannot signal failure (no cfn-signal or no stack settings); the stack will wait for its timeout"
    fi
  fi
  exit "$status"
}

run_step() {
  current_step=$1
  step_started=$(now_us)
  "$1"
  log "$1 done in $(elapsed_since "$step_started")"
  current_step=
}

# Every setting from the header, checked before anything is changed on the box.
check_settings() {
  local name missing=()
  for name in STACK_NAME REGION CONFIG_BUCKET BUILD_NUMBER ARTIFACT_URL SIGNAL_RESOURCE; do
    [[ -n ${!name:-} ]] || missing+=("$name")
  done
  ((${#missing[@]} == 0)) || die "settings missing from the user data header: ${missing[*]}; redeploy with asg-deploy, which writes them."
  [[ $STACK_NAME =~ ^[A-Za-z][A-Za-z0-9-]{0,127}$ ]] || die "STACK_NAME '$STACK_NAME' is not a CloudFormation stack name."
  [[ $REGION =~ ^[a-z]{2}(-[a-z]+)+-[0-9]+$ ]] || die "REGION '$REGION' is not an AWS region name such as eu-west-1."
  [[ $CONFIG_BUCKET =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]] || die "CONFIG_BUCKET '$CONFIG_BUCKET' is not an S3 bucket name."
  [[ $BUILD_NUMBER =~ ^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$ ]] || die "BUILD_NUMBER '$BUILD_NUMBER' may hold only letters, digits, '.', '_' and '-'."
  [[ $ARTIFACT_URL =~ ^https://[^[:space:]#]+(#sha256=[0-9a-fA-F]{64})?$ ]] || die "ARTIFACT_URL '$ARTIFACT_URL' must be an https URL, optionally ending in #sha256=<64 hex digits>."
  [[ -z $FETCH_URL || $FETCH_URL =~ ^https://[^[:space:]]+$ ]] || die "FETCH_URL '$FETCH_URL' must be an https URL or empty."
  [[ -z $FETCH_SHA256 || $FETCH_SHA256 =~ ^[0-9a-fA-F]{64}$ ]] || die "FETCH_SHA256 must be 64 hex digits or empty."
  [[ $APP_NAME =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] || die "APP_NAME '$APP_NAME' is not a valid user name (lower-case letters, digits, '_', '-')."
  [[ $SIGNAL_RESOURCE =~ ^[A-Za-z0-9]{1,255}$ ]] || die "SIGNAL_RESOURCE '$SIGNAL_RESOURCE' is not a CloudFormation logical id."
  # The artifact's file name as fetch saves it: the URL's last path segment.
  local path=${ARTIFACT_URL%%#*}
  path=${path%%\?*}
  artifact_file=${path##*/}
  [[ $artifact_file =~ ^[A-Za-z0-9_-][A-Za-z0-9._-]*$ ]] || die "ARTIFACT_URL '$ARTIFACT_URL' must end in a file name such as app-42.jar."
}

# The newest Java LTS runtime the image's package sources offer.
java_package() {
  local pkg
  for pkg in openjdk-25-jre-headless openjdk-21-jre-headless; do
    # `apt-cache show` also succeeds for a name only referred to.
    if apt-cache policy "$pkg" 2>/dev/null | grep -q '^ *Candidate: [^(]'; then
      printf '%s\n' "$pkg"
      return
    fi
  done
  printf '%s\n' default-jre-headless
}

# One apt-get run; a missing package cannot heal, so it ends the boot unretried.
apt_once() {
  local out status=0 why
  out=$("$@" 2>&1) || status=$?
  printf '%s\n' "$out"
  why=$(grep -m 1 -E 'has no installation candidate|Unable to locate package' <<<"$out") || return "$status"
  die "apt: ${why#E: }; use an image whose package sources have it."
}

install_dependencies() {
  export DEBIAN_FRONTEND=noninteractive
  # Another apt run (apt-daily) may hold the locks at first boot: installs wait for dpkg's lock,
  # `update` fails at once on the lists' lock and is retried for about five minutes.
  local apt=(apt-get -q -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
  retry 12 "${apt[@]}" update
  local java
  java=$(java_package)
  retry 5 apt_once "${apt[@]}" install -y --no-install-recommends nginx "$java" python3-venv curl ca-certificates
  if command -v cfn-signal >/dev/null; then
    return
  fi
  # aws-cfn-bootstrap is not packaged for Debian or Ubuntu; a venv keeps it off the system Python.
  local venv=/usr/local/lib/cfn-bootstrap
  python3 -m venv "$BOOT_ROOT$venv"
  retry 5 "$BOOT_ROOT$venv/bin/pip" install --quiet "$CFN_BOOTSTRAP_URL"
  ln -sfn "$venv/bin/cfn-signal" "$BOOT_ROOT/usr/local/bin/cfn-signal"
}

enable_swap() {
  if [[ -n $(swapon --show --noheadings) ]]; then
    log "swap already active, leaving it alone"
    return
  fi
  local file=$BOOT_ROOT$SWAP_FILE
  if [[ ! -f $file ]]; then
    local mem_mib free_mib size_mib
    mem_mib=$(($(awk '/^MemTotal:/ { print $2 }' /proc/meminfo) / 1024))
    size_mib=$((mem_mib < SWAP_MAX_MIB ? mem_mib : SWAP_MAX_MIB))
    free_mib=$(df --output=avail -m "$(dirname "$file")" | tail -n 1)
    if ((free_mib < size_mib + 1024)); then
      log "only ${free_mib} MiB free on the root disk, not making a ${size_mib} MiB swap file"
      return
    fi
    # Made under a temporary name so an interrupted run never leaves a half-made swap file.
    rm -f "$file.new"
    fallocate -l "${size_mib}M" "$file.new"
    chmod 0600 "$file.new"
    mkswap "$file.new" >/dev/null
    mv -f "$file.new" "$file"
  fi
  swapon "$file" || { log "warning: the kernel refused swap on $SWAP_FILE; going on without it"; return; }
  grep -qs "^$SWAP_FILE " "$BOOT_ROOT/etc/fstab" || printf '%s none swap sw 0 0\n' "$SWAP_FILE" >>"$BOOT_ROOT/etc/fstab"
}

# The instance role's keys from IMDSv2 (one token for both reads), as a curl config.
role_keys() {
  local base=${AWS_EC2_METADATA_SERVICE_ENDPOINT:-http://169.254.169.254} token role
  local curl=(curl -fsS --noproxy '*' --connect-timeout 2 --max-time 10)
  base=${base%/}/latest
  token=$("${curl[@]}" -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "$base/api/token") || return
  curl+=(-H "X-aws-ec2-metadata-token: $token")
  role=$("${curl[@]}" "$base/meta-data/iam/security-credentials/") || return
  "${curl[@]}" "$base/meta-data/iam/security-credentials/${role%%$'\n'*}" | python3 -c '
import json, sys
c = json.load(sys.stdin)
print("user = \"%s:%s\"\nheader = \"x-amz-security-token: %s\"" % (c["AccessKeyId"], c["SecretAccessKey"], c["Token"]))'
}

# s3_get KEY FILE: an object of the config bucket, signed by curl with the instance role's keys,
# which go to curl on stdin, never on a command line.
s3_get() {
  local keys url endpoint=${AWS_ENDPOINT_URL_S3:-${AWS_ENDPOINT_URL:-}}
  keys=$(role_keys) || return
  if [[ -n $endpoint ]]; then
    url=${endpoint%/}/$CONFIG_BUCKET/$1
  elif [[ $CONFIG_BUCKET == *.* ]]; then
    url=https://s3.$REGION.amazonaws.com/$CONFIG_BUCKET/$1
  else
    url=https://$CONFIG_BUCKET.s3.$REGION.amazonaws.com/$1
  fi
  curl -fsS --connect-timeout 10 --max-time 300 --aws-sigv4 "aws:amz:$REGION:s3" -K - -o "$2" "$url" <<<"$keys"
}

install_fetch() {
  local candidate
  for candidate in /usr/local/bin/fetch /usr/bin/fetch; do
    if [[ -x $BOOT_ROOT$candidate ]]; then
      fetch_bin=$BOOT_ROOT$candidate
      log "using the fetch baked into the image: $candidate"
      return
    fi
  done
  [[ -n $FETCH_SHA256 ]] || die "the image has no /usr/local/bin/fetch and FETCH_SHA256 is empty; redeploy with asg-deploy, which uploads fetch with the build, or bake fetch into the image."
  local dir=$BOOT_ROOT/usr/local/bin
  local tmp=$dir/.fetch.download from=$FETCH_URL
  install -d -m 0755 "$dir"
  if [[ -n $FETCH_URL ]]; then
    local ca=()
    [[ -z $BOOT_CA_CERT ]] || ca=(--cacert "$BOOT_CA_CERT")
    retry 5 curl --proto '=https' --tlsv1.2 -fsSL --connect-timeout 10 --max-time 300 "${ca[@]}" -o "$tmp" "$FETCH_URL"
  else
    from=s3://$CONFIG_BUCKET/builds/$BUILD_NUMBER/fetch
    retry 5 s3_get "builds/$BUILD_NUMBER/fetch" "$tmp"
  fi
  if ! printf '%s  %s\n' "${FETCH_SHA256,,}" "$tmp" | sha256sum --check --status; then
    rm -f "$tmp"
    die "the fetch binary from $from does not match FETCH_SHA256; it was deleted without being run."
  fi
  chmod 0755 "$tmp"
  mv -f "$tmp" "$dir/fetch"
  fetch_bin=$dir/fetch
  log "installed fetch from $from (sha256 ${FETCH_SHA256,,})"
}

create_app_user() {
  if getent passwd "$APP_NAME" >/dev/null; then
    log "user $APP_NAME exists"
    return
  fi
  useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$APP_NAME"
}

# After create_app_user (its group owns it): root owns all, the app only reads.
provision_app_directory() {
  local dir
  for dir in "$BOOT_ROOT/var/www/$APP_NAME" "$BOOT_ROOT/var/www/$APP_NAME/builds"; do
    install -d -m 0750 "$dir"
    chown root:"$APP_NAME" "$dir"
  done
}

# Options every fetch call shares.
fetch_cmd() {
  local cmd=("$fetch_bin" -q --retries 5)
  [[ -z $BOOT_CA_CERT ]] || cmd+=(--ca-cert "$BOOT_CA_CERT")
  "${cmd[@]}" "$@"
}

copy_http_resources() {
  local app_dir=$BOOT_ROOT/var/www/$APP_NAME
  local build_dir=$app_dir/builds/$BUILD_NUMBER
  install -d -m 0750 "$build_dir"
  chown root:"$APP_NAME" "$build_dir"
  fetch_cmd -o "$build_dir" -u "$ARTIFACT_URL"
  chmod 0640 "$build_dir/$artifact_file"
  chown root:"$APP_NAME" "$build_dir/$artifact_file"
  # A relative link, renamed over the old one, so the app never sees a missing or half-made jar.
  ln -sfn "builds/$BUILD_NUMBER/$artifact_file" "$app_dir/.$APP_NAME.jar.new"
  mv -Tf "$app_dir/.$APP_NAME.jar.new" "$app_dir/$APP_NAME.jar"
}

copy_s3_resources() {
  local staging=$BOOT_ROOT/var/lib/boot/builds/$BUILD_NUMBER
  local prefix=s3://$CONFIG_BUCKET/builds/$BUILD_NUMBER
  install -d -m 0700 "$staging"
  fetch_cmd --region "$REGION" -o "$staging" -u "$prefix/app.conf" "$prefix/app.service"

  grep -q "^ExecStart=.* /var/www/$APP_NAME/$APP_NAME\.jar" "$staging/app.service" ||
    die "$prefix/app.service does not run /var/www/$APP_NAME/$APP_NAME.jar; upload the unit that matches APP_NAME '$APP_NAME'."
  grep -q '@BUILD_NUMBER@' "$staging/app.conf" ||
    die "$prefix/app.conf has no @BUILD_NUMBER@ placeholder; upload the site from the repo's nginx/app.conf."
  sed "s/@BUILD_NUMBER@/$BUILD_NUMBER/g" "$staging/app.conf" >"$staging/site.conf"

  # Written next to their final place and renamed, so nginx and systemd never read half a file.
  local sites=$BOOT_ROOT/etc/nginx/sites-enabled units=$BOOT_ROOT/etc/systemd/system
  install -d -m 0755 "$sites" "$units"
  install -m 0644 "$staging/site.conf" "$BOOT_ROOT/etc/nginx/.$APP_NAME.conf.new"
  mv -f "$BOOT_ROOT/etc/nginx/.$APP_NAME.conf.new" "$sites/$APP_NAME.conf"
  # The distribution's default site also claims default_server on port 80.
  rm -f "$sites/default"
  install -m 0644 "$staging/app.service" "$units/.$APP_NAME.service.new"
  mv -f "$units/.$APP_NAME.service.new" "$units/$APP_NAME.service"

  nginx -t -q
  systemctl daemon-reload
  systemctl try-reload-or-restart nginx
}

wait_for_health() {
  local url=http://127.0.0.1:$BOOT_HTTP_PORT/healthz
  local deadline=$((SECONDS + BOOT_HEALTH_TIMEOUT)) code
  while :; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --noproxy '*' --max-time 5 "$url") || true
    [[ $code == 200 ]] && return
    if systemctl is-failed --quiet "$APP_NAME.service"; then
      die "$APP_NAME.service failed while starting (last /healthz answer: $code); see journalctl -u $APP_NAME."
    fi
    if ((SECONDS >= deadline)); then
      die "$url did not answer 200 within ${BOOT_HEALTH_TIMEOUT}s (last answer: $code); see journalctl -u $APP_NAME and /var/log/nginx/error.log."
    fi
    sleep 2
  done
}

start_servers() {
  systemctl enable "$APP_NAME.service"
  systemctl restart "$APP_NAME.service"
  systemctl enable nginx
  systemctl restart nginx
  wait_for_health
}

signal_success() {
  signal_stack 0
  signalled=success
}

# BOOT_ROOT and BOOT_REHEARSAL only together: either alone would damage the machine running them.
check_mode() {
  if [[ $BOOT_REHEARSAL == 0 && -z $BOOT_ROOT ]]; then
    return
  fi
  [[ $BOOT_REHEARSAL == 1 ]] || die "BOOT_REHEARSAL must be 0 or 1 (got '$BOOT_REHEARSAL'), and 1 whenever BOOT_ROOT is set."
  [[ $BOOT_ROOT == /* && -d $BOOT_ROOT && $BOOT_ROOT != / ]] || die "BOOT_REHEARSAL=1 needs BOOT_ROOT set to an existing directory other than /."
  [[ -x ${BOOT_REHEARSAL_HOOK:-} ]] || die "BOOT_REHEARSAL=1 needs BOOT_REHEARSAL_HOOK set to an executable that stands in for the system commands."
}

check_mode
if [[ $BOOT_REHEARSAL == 1 ]]; then
  # The commands that change the machine itself; everything else runs for real under BOOT_ROOT.
  apt-get() { "$BOOT_REHEARSAL_HOOK" apt-get "$@"; }
  apt-cache() { "$BOOT_REHEARSAL_HOOK" apt-cache "$@"; }
  useradd() { "$BOOT_REHEARSAL_HOOK" useradd "$@"; }
  chown() { "$BOOT_REHEARSAL_HOOK" chown "$@"; }
  fallocate() { "$BOOT_REHEARSAL_HOOK" fallocate "$@"; }
  mkswap() { "$BOOT_REHEARSAL_HOOK" mkswap "$@"; }
  swapon() { "$BOOT_REHEARSAL_HOOK" swapon "$@"; }
  nginx() { "$BOOT_REHEARSAL_HOOK" nginx "$@"; }
  systemctl() { "$BOOT_REHEARSAL_HOOK" systemctl "$@"; }
  cfn-signal() { "$BOOT_REHEARSAL_HOOK" cfn-signal "$@"; }
fi

trap 'on_error $? $LINENO' ERR
trap on_exit EXIT

boot_started=$(now_us)
log "booting build ${BUILD_NUMBER:-?} of stack ${STACK_NAME:-?}"
run_step check_settings
run_step install_dependencies
run_step enable_swap
run_step install_fetch
run_step create_app_user
run_step provision_app_directory
run_step copy_http_resources
run_step copy_s3_resources
run_step start_servers
run_step signal_success
log "build $BUILD_NUMBER is serving; boot took $(elapsed_since "$boot_started")"
