#!/usr/bin/env bash
# Regenerates the simulator's webhook-signing key material (needs the openssl CLI, 3.0 or newer).
# The output is committed; run this only to replace the keys, then commit the new files.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat > "$work/ca.cnf" <<'CNF'
[ca]
default_ca = sandbox_ca
[sandbox_ca]
dir = WORK
database = $dir/index.txt
new_certs_dir = $dir
serial = $dir/serial
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[any]
countryName = optional
organizationName = optional
commonName = supplied
[req]
distinguished_name = dn
prompt = no
[dn]
C = US
O = payhub sandbox
CN = payhub sandbox webhook CA
[v3_ca]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[v3_leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = DNS:messageverificationcerts.payhub-sandbox.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
sed -i "s|WORK|$work|" "$work/ca.cnf"
touch "$work/index.txt"
echo 01 > "$work/serial"

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/ca.key" 2>/dev/null
openssl req -new -key "$work/ca.key" -config "$work/ca.cnf" -out "$work/ca.csr"
openssl ca -batch -selfsign -config "$work/ca.cnf" -keyfile "$work/ca.key" -in "$work/ca.csr" \
  -startdate 20200101000000Z -enddate 20991231235959Z -extensions v3_ca -notext -out ca.crt.pem 2>/dev/null

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/signing.key" 2>/dev/null
openssl req -new -key "$work/signing.key" -subj "/C=US/O=payhub sandbox/CN=messageverificationcerts.payhub-sandbox.test" \
  -out "$work/signing.csr"
openssl ca -batch -config "$work/ca.cnf" -cert ca.crt.pem -keyfile "$work/ca.key" -in "$work/signing.csr" \
  -startdate 20200101000000Z -enddate 20991231235959Z -extensions v3_leaf -notext -out signing.crt.pem 2>/dev/null
openssl pkcs8 -topk8 -nocrypt -in "$work/signing.key" -outform DER -out signing.key.pk8.der

openssl verify -CAfile ca.crt.pem signing.crt.pem
