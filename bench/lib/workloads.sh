# shellcheck shell=bash
# shellcheck disable=SC2034 # the paths set here are used by bench/run, which sources this file
# The workloads of issue 3 (W0-W4 and the reference limits REF) and issue 21 (W5, a server that caps
# each connection): their data, the peer tools each is run with, each tool's command line at
# concurrency 16, and the check that a run's files are exact.

ALL_WORKLOADS=(W0 W1 W2 W3 W4 W5 REF)

# nginx's limit_rate on W5's server: per connection, low enough that the cap, not the two cores,
# limits any tool that opens up to 16 connections (16 x 25 MiB/s = 400 MiB/s).
CAPPED_RATE_MIB=25

# Where each prepared workload's files are served from: what a run's output must equal.
declare -A SOURCE_DIRS=()

MiB=1048576
GiB=1073741824

workload_title() {
  case $1 in
    W0) echo "W0 one small file: a single 64 KiB file over http, start to exit" ;;
    W1) echo "W1 http-small: 1000 files of 64 KiB" ;;
    W2) echo "W2 http-large: 4 files of 1 GiB" ;;
    W3) echo "W3 s3-small: 200 objects of 1 MiB" ;;
    W4) echo "W4 s3-large: one 2 GiB object" ;;
    W5) echo "W5 http-capped: one 1 GiB file and four of 256 MiB, nginx capping each connection at $CAPPED_RATE_MIB MiB/s (limit_rate)" ;;
    REF) echo "REF limits: one 1 GiB file, single loopback stream (curl to /dev/null) from nginx and from s3s-fs, and tmpfs copy (cp), measured within the W2 and W4 rounds" ;;
  esac
}

# Total bytes a run of the workload moves (the throughput column divides this by the wall time).
workload_bytes() {
  case $1 in
    W0) echo $((64 * 1024)) ;;
    W1) echo $((1000 * 64 * 1024)) ;;
    W2) echo $((4 * GiB)) ;;
    W3) echo $((200 * MiB)) ;;
    W4) echo $((2 * GiB)) ;;
    W5) echo $((2 * GiB)) ;;
    REF) echo $GiB ;;
  esac
}

# The tools a workload is run with, fetch first (and fetch-base, another build of fetch, beside it
# when --fetch-base names one). aria2c runs twice on W2 and W5: one connection per file, and files
# split into 16 ranged connections (the issue asks for the better of the two); on W5 wget2 and rclone
# also run at their defaults and at their best documented flags for big files (wget2's
# --chunk-size, rclone's --multi-thread-streams). REF's stream from s3s-fs is measured when that
# server runs (for W3 or W4): it is what one S3 stream can reach.
workload_tools() {
  local base=${FETCH_BASE:+fetch-base }
  case $1 in
    W0) echo "fetch ${base}curl" ;;
    W1) echo "fetch ${base}curl aria2c wget2 rclone" ;;
    W2) echo "fetch ${base}curl aria2c aria2c-split wget2 rclone" ;;
    W3 | W4) echo "fetch ${base}s5cmd aws rclone" ;;
    W5) echo "fetch ${base}curl aria2c aria2c-split wget2 wget2-split rclone rclone-multi" ;;
    REF) echo "curl-1stream ${S3_URL:+curl-s3-1stream }cp" ;;
  esac
}

# Memory the workload's files need on tmpfs at once: its source and one run's output, plus the
# reference file (served by nginx and s3s-fs) that is measured alongside W2 and W4.
workload_scratch_bytes() {
  case $1 in
    REF) echo $((3 * GiB)) ;;
    W2 | W4) echo $((2 * $(workload_bytes "$1") + 2 * GiB)) ;;
    *) echo $((2 * $(workload_bytes "$1"))) ;;
  esac
}

is_s3_workload() { [ "$1" = W3 ] || [ "$1" = W4 ]; }

# Writes the workload's files and URL lists; s3 data is uploaded through the S3 API (so s3s-fs keeps
# its ETag side files and does not hash a whole object on every GET) and the local copy removed.
prepare_workload() {
  local w=$1 dir="$HTTP_ROOT/${1,,}"
  case $w in
    W0) python3 "$BENCH_DIR/lib/make_files.py" "$dir" 1 $((64 * 1024)) 'one.bin' ;;
    W1) python3 "$BENCH_DIR/lib/make_files.py" "$dir" 1000 $((64 * 1024)) 'f%04d.bin' ;;
    W2) python3 "$BENCH_DIR/lib/make_files.py" "$dir" 4 $GiB 'big%d.bin' ;;
    REF) python3 "$BENCH_DIR/lib/make_files.py" "$dir" 1 $GiB 'one.bin' ;;
    W3) python3 "$BENCH_DIR/lib/make_files.py" "$RUN_DIR/upload" 200 $MiB 'f%03d.bin' ;;
    W4) python3 "$BENCH_DIR/lib/make_files.py" "$RUN_DIR/upload" 1 $((2 * GiB)) 'big.bin' ;;
    W5)
      python3 "$BENCH_DIR/lib/make_files.py" "$dir" 1 $GiB 'big.bin'
      python3 "$BENCH_DIR/lib/make_files.py" "$dir" 4 $((256 * MiB)) 'part%d.bin'
      ;;
  esac
  if is_s3_workload "$w"; then
    run_s3_client "$S5CMD" --endpoint-url "$S3_URL" mb "s3://$S3_BUCKET" >/dev/null 2>&1 || true
    run_s3_client "$S5CMD" --endpoint-url "$S3_URL" cp "$RUN_DIR/upload/*" "s3://$S3_BUCKET/${w,,}/" >/dev/null ||
      die "uploading the $w objects to s3s-fs failed; see $RUN_DIR/s3s-fs.log"
    rm -rf "$RUN_DIR/upload"
    SOURCE_DIRS[$w]="$S3_ROOT/$S3_BUCKET/${w,,}"
  else
    chmod -R a+rX "$dir"
    SOURCE_DIRS[$w]=$dir
    (cd "$dir" && find . -type f -printf '%P\n' | sort) | sed "s|^|$(http_url "$w")/${w,,}/|" >"$RUN_DIR/${w,,}.urls"
    sed 's/.*/url = "&"/' "$RUN_DIR/${w,,}.urls" >"$RUN_DIR/${w,,}.curl"
  fi
  if [ "$w" = REF ] && [ -n "${S3_URL:-}" ]; then
    # The same file as an S3 object, and a presigned URL for it, so curl needs no S3 client.
    run_s3_client "$S5CMD" --endpoint-url "$S3_URL" cp "$dir/one.bin" "s3://$S3_BUCKET/ref/one.bin" >/dev/null ||
      die "uploading the REF object to s3s-fs failed; see $RUN_DIR/s3s-fs.log"
    run_s3_client "$AWS" --endpoint-url "$S3_URL" s3 presign --expires-in 86400 "s3://$S3_BUCKET/ref/one.bin" \
      >"$RUN_DIR/ref.s3url" || die "the AWS CLI could not presign the REF object"
  fi
  [ "$(du -sb "${SOURCE_DIRS[$w]}" | cut -f1)" -ge "$(workload_bytes "$w")" ] ||
    die "the $w source files in ${SOURCE_DIRS[$w]} are incomplete"
}

# The server a workload's files come from: W5's caps each connection.
http_url() {
  if [ "$1" = W5 ]; then echo "$CAPPED_URL"; else echo "$HTTP_URL"; fi
}

remove_workload() {
  rm -rf "${SOURCE_DIRS[$1]:?}" "$RUN_DIR/${1,,}.urls" "$RUN_DIR/${1,,}.curl"
  [ "$1" != REF ] || rm -rf "$S3_ROOT/$S3_BUCKET/ref" "$RUN_DIR/ref.s3url"
}

# Runs a command with a scrubbed environment (no proxies, CA bundles or AWS settings of this machine)
# plus the S3 credentials; rclone's S3 backend refuses to start while AWS_CA_BUNDLE is set.
run_s3_client() {
  env -i PATH="$PATH" HOME="$RUN_DIR/home" LANG=C.UTF-8 \
    AWS_ACCESS_KEY_ID="$S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$S3_SECRET_KEY" AWS_REGION=us-east-1 \
    AWS_CONFIG_FILE="$RUN_DIR/aws-config" AWS_SHARED_CREDENTIALS_FILE="$RUN_DIR/aws-credentials" \
    AWS_EC2_METADATA_DISABLED=true "$@"
}

# The environment every measured command runs in: scrubbed, with the S3 settings every S3 client
# reads (the AWS CLI's concurrency comes from its config file; rclone's remote from RCLONE_CONFIG_*).
write_client_config() {
  mkdir -p "$RUN_DIR/home"
  : >"$RUN_DIR/aws-credentials"
  : >"$RUN_DIR/rclone.conf"
  cat >"$RUN_DIR/aws-config" <<CONF
[default]
region = us-east-1
s3 =
    max_concurrent_requests = 16
    addressing_style = path
CONF
  CLIENT_ENV=(env -i PATH="$PATH" HOME="$RUN_DIR/home" LANG=C.UTF-8
    AWS_ACCESS_KEY_ID="$S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$S3_SECRET_KEY" AWS_REGION=us-east-1
    AWS_CONFIG_FILE="$RUN_DIR/aws-config" AWS_SHARED_CREDENTIALS_FILE="$RUN_DIR/aws-credentials"
    AWS_EC2_METADATA_DISABLED=true
    RCLONE_CONFIG="$RUN_DIR/rclone.conf"
    RCLONE_CONFIG_BS3_TYPE=s3 RCLONE_CONFIG_BS3_PROVIDER=Other RCLONE_CONFIG_BS3_ENDPOINT="${S3_URL:-}"
    RCLONE_CONFIG_BS3_ACCESS_KEY_ID="$S3_ACCESS_KEY" RCLONE_CONFIG_BS3_SECRET_ACCESS_KEY="$S3_SECRET_KEY"
    RCLONE_CONFIG_BS3_REGION=us-east-1 RCLONE_CONFIG_BS3_FORCE_PATH_STYLE=true)
}

# Sets CMD to the command line of tool $2 on workload $1, writing into directory $3.
tool_command() {
  local w=$1 tool=$2 out=$3 lw=${1,,} fetch=$FETCH
  local urls="$RUN_DIR/$lw.urls" curlcfg="$RUN_DIR/$lw.curl" s3="s3://$S3_BUCKET/$lw"
  # fetch-base is fetch's command line with the other binary.
  if [ "$tool" = fetch-base ]; then
    tool=fetch fetch=$FETCH_BASE
  fi
  case $w/$tool in
    W0/fetch) CMD=("$fetch" -q -u "$(cat "$urls")" -o "$out") ;;
    W0/curl) CMD=(curl -sSf -o "$out/one.bin" "$(cat "$urls")") ;;
    W1/fetch | W2/fetch | W5/fetch) CMD=("$fetch" -q -j 16 -i "$urls" -o "$out") ;;
    W1/curl | W2/curl | W5/curl) CMD=(curl -sSf --parallel --parallel-max 16 --remote-name-all --output-dir "$out" -K "$curlcfg") ;;
    W1/aria2c | W2/aria2c | W5/aria2c) CMD=(aria2c -q -j 16 --file-allocation=none -d "$out" -i "$urls") ;;
    W2/aria2c-split | W5/aria2c-split) CMD=(aria2c -q -j 16 -x 16 -s 16 -k 8M --file-allocation=none -d "$out" -i "$urls") ;;
    W1/wget2 | W2/wget2 | W5/wget2) CMD=(wget2 -q --max-threads 16 -P "$out" -i "$urls") ;;
    W5/wget2-split) CMD=(wget2 -q --max-threads 16 --chunk-size 16M -P "$out" -i "$urls") ;;
    W1/rclone | W2/rclone | W5/rclone) CMD=(rclone copy -q --transfers 16 --http-url "$(http_url "$w")/$lw/" :http: "$out") ;;
    W5/rclone-multi) CMD=(rclone copy -q --transfers 16 --multi-thread-streams 16 --multi-thread-cutoff 16M
      --http-url "$CAPPED_URL/$lw/" :http: "$out") ;;
    W3/fetch) CMD=("$fetch" -q -j 16 --endpoint-url "$S3_URL" -u "$s3/" -o "$out") ;;
    W4/fetch) CMD=("$fetch" -q -j 16 --endpoint-url "$S3_URL" -u "$s3/big.bin" -o "$out") ;;
    W3/s5cmd) CMD=("$S5CMD" --numworkers 16 --endpoint-url "$S3_URL" cp "$s3/*" "$out/") ;;
    W4/s5cmd) CMD=("$S5CMD" --numworkers 16 --endpoint-url "$S3_URL" cp "$s3/big.bin" "$out/") ;;
    W3/aws) CMD=("$AWS" --endpoint-url "$S3_URL" s3 cp --quiet --recursive "$s3/" "$out/") ;;
    W4/aws) CMD=("$AWS" --endpoint-url "$S3_URL" s3 cp --quiet "$s3/big.bin" "$out/") ;;
    # The trailing slash spares rclone a HEAD of the prefix as if it were an object, which s3s-fs
    # answers with 500 (not 404) and rclone retries for about 90 s; real S3 answers 404 at once.
    W3/rclone | W4/rclone) CMD=(rclone copy -q --transfers 16 "bs3:$S3_BUCKET/$lw/" "$out") ;;
    REF/curl-1stream) CMD=(curl -sSf -o /dev/null -w '%{size_download}\n' "$(cat "$urls")") ;;
    REF/curl-s3-1stream) CMD=(curl -sSf -o /dev/null -w '%{size_download}\n' "$(cat "$RUN_DIR/ref.s3url")") ;;
    REF/cp) CMD=(cp "${SOURCE_DIRS[REF]}/one.bin" "$out/one.bin") ;;
    *) die "no command for $tool on $w" ;;
  esac
  CMD=("${CLIENT_ENV[@]}" "${CMD[@]}")
}

# Checks that a run delivered every file byte-exact and nothing else; prints why when it did not.
verify_output() {
  local w=$1 tool=$2 out=$3 log=$4
  if [ "$w/$tool" = REF/curl-1stream ] || [ "$w/$tool" = REF/curl-s3-1stream ]; then
    [ "$(tail -n 1 "$log")" = "$GiB" ] || { echo "curl received $(tail -n 1 "$log") bytes, not $GiB"; return 1; }
    return 0
  fi
  diff -rq "${SOURCE_DIRS[$w]}" "$out" >"$out.diff" 2>&1 || { head -n 3 "$out.diff"; return 1; }
}

is_large_workload() { [ "$1" = W2 ] || [ "$1" = W4 ]; }
