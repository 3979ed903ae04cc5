# shellcheck shell=bash
# One measured run: an empty output directory, the tool under GNU time (peak RSS, user and system CPU
# time) between two microsecond clock readings (wall time), then the byte-exact check. One TSV line per
# run; its columns are described in bench/lib/report.py.

# GNU time prints elapsed time with 10 ms resolution, too coarse for the 0.1 s workloads, so the wall
# time is read from bash's microsecond clock around the same process; `%e` is kept as a cross-check.
# `%U` and `%S` (CPU time in user and kernel mode, the tool's and its waited-for children's) have the
# same 10 ms resolution.
measure_run() {
  local w=$1 tool=$2 round=$3
  local out="$SCRATCH/out" log="$RUN_DIR/logs/$w-$tool-$round.log" timing="$RUN_DIR/time.out"
  rm -rf "$out" "$out.diff"
  mkdir -p "$out" "$RUN_DIR/logs"
  tool_command "$w" "$tool" "$out"
  local start end rc=0
  start=$EPOCHREALTIME
  /usr/bin/time -f '%e %M %U %S' -o "$timing" "${CMD[@]}" >"$log" 2>&1 || rc=$?
  end=$EPOCHREALTIME
  local elapsed rss user sys status=ok why=''
  read -r elapsed rss user sys < <(tail -n 1 "$timing")
  if [ "$rc" -ne 0 ]; then
    status=failed why="exit code $rc: $(grep -v '^\s*$' "$log" | tail -n 1)"
  elif ! why=$(verify_output "$w" "$tool" "$out" "$log"); then
    status=failed
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$w" "$tool" "$round" "$start" "$end" "$elapsed" "$rss" \
    "$status" "$(workload_bytes "$w")" "$user" "$sys" >>"$RESULTS_TSV"
  local wall cpu
  wall=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", e - s }')
  cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
  if [ "$status" = ok ]; then
    log "$w round $round $tool: ${wall} s, CPU ${cpu} s, $((rss / 1024)) MiB"
  else
    # The scratch directory goes away at exit; keep the tool's output where the table goes.
    mkdir -p "$RESULTS_DIR/failed"
    cp "$log" "$RESULTS_DIR/failed/"
    log "$w round $round $tool: FAILED ($why); command: ${CMD[*]:${#CLIENT_ENV[@]}}; its output: bench/results/failed/$(basename "$log")"
  fi
  rm -rf "$out" "$out.diff"
}
