# shellcheck shell=bash
# shellcheck disable=SC2034,SC2153 # S3_BUCKET is used and HTTP_ROOT set by bench/run, which sources this file
# The two servers the tools download from, on loopback with free ports: nginx for http and s3s-fs for
# s3. Both serve from the tmpfs scratch directory, so neither disk nor network is what is measured.

# Credentials s3s-fs requires and every S3 client is given.
S3_ACCESS_KEY=benchaccesskey
S3_SECRET_KEY=benchsecretkey
S3_BUCKET=bench

start_nginx() {
  HTTP_PORT=$(free_port)
  CAPPED_PORT=$(free_port)
  while [ "$CAPPED_PORT" = "$HTTP_PORT" ]; do CAPPED_PORT=$(free_port); done
  mkdir -p "$RUN_DIR/nginx"
  # Workers drop to an unprivileged user when started as root; the served tree is world-readable.
  cat >"$RUN_DIR/nginx/nginx.conf" <<CONF
worker_processes 2;
pid $RUN_DIR/nginx/nginx.pid;
error_log $RUN_DIR/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    default_type application/octet-stream;
    client_body_temp_path $RUN_DIR/nginx/body;
    proxy_temp_path $RUN_DIR/nginx/proxy;
    fastcgi_temp_path $RUN_DIR/nginx/fastcgi;
    uwsgi_temp_path $RUN_DIR/nginx/uwsgi;
    scgi_temp_path $RUN_DIR/nginx/scgi;
    server {
        listen 127.0.0.1:$HTTP_PORT;
        root $HTTP_ROOT;
        # rclone's http remote lists a directory through its index page.
        autoindex on;
    }
    # W5's server: the same files, each connection capped, as S3, CDNs and proxies cap theirs.
    server {
        listen 127.0.0.1:$CAPPED_PORT;
        root $HTTP_ROOT;
        autoindex on;
        limit_rate ${CAPPED_RATE_MIB}m;
    }
}
CONF
  "$NGINX" -e "$RUN_DIR/nginx/error.log" -t -q -c "$RUN_DIR/nginx/nginx.conf" ||
    die "nginx rejected the generated configuration in $RUN_DIR/nginx/nginx.conf"
  "$NGINX" -e "$RUN_DIR/nginx/error.log" -c "$RUN_DIR/nginx/nginx.conf" -g 'daemon off;' &
  NGINX_PID=$!
  wait_for_port "$HTTP_PORT" nginx
  wait_for_port "$CAPPED_PORT" nginx
  HTTP_URL="http://127.0.0.1:$HTTP_PORT" CAPPED_URL="http://127.0.0.1:$CAPPED_PORT"
  log "nginx serves $HTTP_ROOT at $HTTP_URL"
}

start_s3s_fs() {
  S3_PORT=$(free_port)
  "$S3S_FS" --host 127.0.0.1 --port "$S3_PORT" --access-key "$S3_ACCESS_KEY" --secret-key "$S3_SECRET_KEY" \
    "$S3_ROOT" >"$RUN_DIR/s3s-fs.log" 2>&1 &
  S3_PID=$!
  wait_for_port "$S3_PORT" s3s-fs
  S3_URL="http://127.0.0.1:$S3_PORT"
  log "s3s-fs serves $S3_ROOT at $S3_URL"
}

# Stops the servers this run started (by their process ids); never fails, as it runs on exit.
stop_servers() {
  local pid
  for pid in "${NGINX_PID:-}" "${S3_PID:-}"; do
    if [ -n "$pid" ]; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  NGINX_PID='' S3_PID=''
}
