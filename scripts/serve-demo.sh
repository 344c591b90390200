#!/usr/bin/env bash
# Run a demo rcommerce from a fresh clone: install into .venv, migrate, load the demo
# catalog, print a secret and a publishable API key with example calls, then serve.
# Safe to run again: the catalog seed skips what exists and the demo keys are reused while
# they are still active in the database.
#
# Settings come from ./rcommerce.toml and RCOMMERCE_* variables as usual, for example
#   RCOMMERCE_DATABASE__URL=postgresql+asyncpg://... scripts/serve-demo.sh
# Extra arguments go to `rcommerce serve` (e.g. --http-port 9090 --workers 2).
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

if [ ! -x "$VENV/bin/python" ]; then
  echo "== creating $VENV" >&2
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
fi

echo "== installing rcommerce" >&2
install_args=(-e .)
if [ -f plugins/rcommerce-example/pyproject.toml ]; then
  install_args+=(-e plugins/rcommerce-example)
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${install_args[@]}"

rc="$VENV/bin/rcommerce"
mkdir -p var

echo "== migrating" >&2
"$rc" migrate >&2
echo "== loading the demo catalog" >&2
"$rc" seed >&2

# The keys are printed once by `apikey create`, so keep them (var/ is not committed) and
# reuse them while `apikey list` still shows them active; otherwise make new ones.
keys_file=var/demo-keys
key_active() {
  local key=$1
  [ -n "$key" ] && "$rc" apikey list 2>/dev/null | awk -F'\t' '$3 == "active" {print $2}' \
    | grep -qxF "${key:0:12}..."
}
secret_key=""
publishable_key=""
if [ -f "$keys_file" ]; then
  secret_key=$(sed -n 's/^secret=//p' "$keys_file")
  publishable_key=$(sed -n 's/^publishable=//p' "$keys_file")
fi
if ! key_active "$secret_key"; then
  secret_key=$("$rc" apikey create --name demo --scopes admin 2>/dev/null)
fi
if ! key_active "$publishable_key"; then
  publishable_key=$("$rc" apikey create --name demo-storefront --kind publishable 2>/dev/null)
fi
umask 077
printf 'secret=%s\npublishable=%s\n' "$secret_key" "$publishable_key" >"$keys_file"

# Where the server will listen: the effective settings, then any --host/--*-port flags.
read -r host grpc_port http_port < <("$rc" config show | "$VENV/bin/python" -c \
  'import json,sys; s=json.load(sys.stdin)["server"]; print(s["host"], s["grpc_port"], s["http_port"])')
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --host) host=${args[i + 1]:-$host} ;;
    --host=*) host=${args[i]#*=} ;;
    --grpc-port) grpc_port=${args[i + 1]:-$grpc_port} ;;
    --grpc-port=*) grpc_port=${args[i]#*=} ;;
    --http-port) http_port=${args[i + 1]:-$http_port} ;;
    --http-port=*) http_port=${args[i]#*=} ;;
  esac
done
[ "$host" = "0.0.0.0" ] && host=127.0.0.1

cat <<INFO

rcommerce demo
  secret key (admin):        $secret_key
  publishable key (storefront): $publishable_key
  (kept in $keys_file)

REST on http://$host:$http_port
  curl -s http://$host:$http_port/v1/ping
  curl -s -H 'authorization: Bearer $publishable_key' 'http://$host:$http_port/v1/products?pageSize=5'
  curl -s -H 'authorization: Bearer $secret_key' -H 'content-type: application/json' \\
       -d '{"title": "Blue Tee", "status": "PRODUCT_STATUS_ACTIVE"}' http://$host:$http_port/v1/products
  curl -s http://$host:$http_port/openapi.json

gRPC on $host:$grpc_port (reflection is on)
  grpcurl -plaintext -H 'authorization: Bearer $secret_key' $host:$grpc_port rcommerce.v1.MetaService/Ping
  grpcurl -plaintext -H 'authorization: Bearer $publishable_key' -d '{"page_size": 5}' \\
       $host:$grpc_port rcommerce.v1.CatalogService/ListProducts
  $VENV/bin/python - <<'PY'
import grpc
from rcommerce.gen.v1 import catalog_pb2, catalog_pb2_grpc
stub = catalog_pb2_grpc.CatalogServiceStub(grpc.insecure_channel("$host:$grpc_port"))
print(stub.ListProducts(catalog_pb2.ListProductsRequest(page_size=5),
                        metadata=[("authorization", "Bearer $publishable_key")]))
PY

INFO

exec "$rc" serve "$@"
