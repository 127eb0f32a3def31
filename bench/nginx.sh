# Sourced by the bench scripts: nginx (Debian's nginx-light) serving one static file, the
# yardstick for Sluice's small JSON answers.
#   start_nginx DIR FILE   serves FILE as http://127.0.0.1:<free port>/<name of FILE> with
#                          2 workers, config and pid under DIR; sets NGINX_URL and NGINX_PID
start_nginx() {
  local dir=$1 file=$2 port
  mkdir -p "$dir/www"
  cp "$file" "$dir/www/"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  # Workers started by root run as `nobody` unless told otherwise, and could not read a
  # file under a mktemp -d (0700) dir: every request would get a 403 (and an error log line).
  cat > "$dir/nginx.conf" <<NGINX
$([ "$(id -u)" -eq 0 ] && echo "user root root;")
worker_processes 2;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
  default_type application/json;
  server { listen 127.0.0.1:$port; root $dir/www; }
}
NGINX
  nginx -c "$dir/nginx.conf" -g 'daemon off;' &
  NGINX_PID=$!
  NGINX_URL="http://127.0.0.1:$port/$(basename "$file")"
  local _
  for _ in $(seq 50); do
    curl -sf -o /dev/null "$NGINX_URL" && return 0
    sleep 0.1
  done
  echo "nginx did not start (see $dir/nginx-error.log)" >&2
  return 1
}
