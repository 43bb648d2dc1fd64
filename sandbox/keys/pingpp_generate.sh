#!/usr/bin/env bash
# Regenerates the Ping++ simulator's key material (needs the openssl CLI, 3.0 or newer).
# The output is committed; run this only to replace the keys, then commit the new files.
#
# - pingpp_platform.key.pk8.der / pingpp_platform_public_key.pem: the simulator's "Ping++" key
#   pair, which signs webhooks (X-Pingplusplus-Signature). The private key is PKCS#8 DER so ring
#   loads it; the public key is the SubjectPublicKeyInfo PEM Ping++ hands to merchants.
# - pingpp_merchant_private_key.pem / pingpp_merchant_public_key.pem: a default merchant key
#   pair for request signing (Pingplusplus-Signature). The private key is PKCS#8 PEM
#   ("BEGIN PRIVATE KEY"), which every Ping++ SDK loads (the Java SDK accepts only PKCS#8).
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/platform.pem" 2>/dev/null
openssl pkcs8 -topk8 -nocrypt -in "$work/platform.pem" -outform DER -out pingpp_platform.key.pk8.der
openssl pkey -in "$work/platform.pem" -pubout -out pingpp_platform_public_key.pem

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out pingpp_merchant_private_key.pem 2>/dev/null
openssl pkey -in pingpp_merchant_private_key.pem -pubout -out pingpp_merchant_public_key.pem
