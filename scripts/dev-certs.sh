#!/bin/sh
# Makes a development CA and one node certificate signed by it, with openssl.
# For development and tests only: a production cluster's certificates come
# from the operator's own CA.
#
#   sh scripts/dev-certs.sh DIR [NAME ...]
#
# DIR gets:
#   ca.pem        the CA certificate (every role's --tls-ca-file)
#   ca-key.pem    the CA's key (keep it away from the servers)
#   node.pem      a certificate for servers and cluster roles (--tls-cert-file),
#                 valid for TLS servers and clients (mutual TLS)
#   node-key.pem  its key (--tls-key-file), mode 600
# The node certificate names localhost, 127.0.0.1 and ::1, plus every NAME
# given: IP addresses become IP entries, anything else a DNS entry (e.g. the
# addresses of test hosts, or this host's name).
set -eu
if [ $# -lt 1 ]; then
  echo "usage: sh scripts/dev-certs.sh DIR [NAME ...]" >&2
  exit 2
fi
dir=$1
shift
command -v openssl >/dev/null 2>&1 || { echo "dev-certs: openssl is not installed" >&2; exit 1; }
mkdir -p "$dir"
umask 077

san="DNS:localhost,IP:127.0.0.1,IP:::1"
for name in "$@"; do
  case "$name" in
    *[!0-9.]*) case "$name" in *:*) san="$san,IP:$name" ;; *) san="$san,DNS:$name" ;; esac ;;
    *) san="$san,IP:$name" ;;
  esac
done

ext=$(mktemp)
trap 'rm -f "$ext" "$dir/node.csr" "$dir/ca.srl"' EXIT
cat >"$ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$san
EXT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
  -subj "/CN=Braid development CA" -keyout "$dir/ca-key.pem" -out "$dir/ca.pem" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -subj "/CN=braid-node" -keyout "$dir/node-key.pem" -out "$dir/node.csr" 2>/dev/null
openssl x509 -req -in "$dir/node.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca-key.pem" -CAcreateserial \
  -days 825 -extfile "$ext" -out "$dir/node.pem" 2>/dev/null
chmod 644 "$dir/ca.pem" "$dir/node.pem"
chmod 600 "$dir/ca-key.pem" "$dir/node-key.pem"
echo "dev-certs: CA and node certificate ($san) in $dir"
