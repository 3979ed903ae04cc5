# shellcheck shell=bash
# Small helpers every part of the benchmark uses: messages, fatal errors and free loopback ports.

log() { printf 'bench: %s\n' "$*" >&2; }

# Prints one line saying what went wrong and what to do, then stops the benchmark.
die() {
  printf 'bench: error: %s\n' "$*" >&2
  exit 1
}

# A port on 127.0.0.1 that nothing listens on right now (the kernel picks it).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The machine's CPU time so far, in clock ticks: all of it, and what the hypervisor gave to other
# guests ("steal", /proc/stat). On a shared virtual machine the steal share explains noisy runs.
cpu_ticks() {
  awk '/^cpu / { total = 0; for (i = 2; i <= NF; i++) total += $i; print total, $9; exit }' /proc/stat
}

# Waits until something accepts connections on 127.0.0.1:$1, for at most 10 s.
wait_for_port() {
  local port=$1 name=$2
  for _ in $(seq 100); do
    if python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2)' "$port" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  die "$name did not start listening on 127.0.0.1:$port within 10 s; see its log in $RUN_DIR"
}
