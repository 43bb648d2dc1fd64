#!/usr/bin/env bash
# The floor of applying notifications on PostgreSQL: the statements the store sends for an
# apply unit (read the payment; then lock it, update it, record the transition, the event with
# its sequence, read the endpoints, queue the delivery, mark the inbox row), with made-up values
# (the update goes by id alone: pgbench cannot know a payment's version), run by pgbench (C,
# prepared statements) on payhub's own schema, CLIENTS connections at once, GROUP units per
# transaction (each under a savepoint when GROUP > 1). No hub: it shows what any client of this
# server could reach on this machine with one unit's statements one after another.
#
#   cargo build --release -p payhub
#   scripts/postgres-floor.sh [CLIENTS] [GROUP] [SECONDS]      # defaults: 8 1 10
#   PAYHUB=target/release/payhub PG=postgres://postgres@127.0.0.1:5432/postgres scripts/postgres-floor.sh 8 8
set -euo pipefail

CLIENTS=${1:-8}
GROUP=${2:-1}
SECONDS_RUN=${3:-10}
PAYHUB=${PAYHUB:-target/release/payhub}
PG=${PG:-postgres://postgres@127.0.0.1:5432/postgres}
# Payments (and stored notifications) the units pick from at random.
ROWS=100000

command -v pgbench >/dev/null || { echo "pgbench is not installed (Debian: postgresql-client)" >&2; exit 1; }
[ -x "$PAYHUB" ] || { echo "$PAYHUB not found: cargo build --release -p payhub" >&2; exit 1; }

name="payhub_floor_$$"
work=$(mktemp -d)
psql -q "$PG" -c "CREATE DATABASE $name" >/dev/null
trap 'psql -q "$PG" -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null; rm -rf "$work"' EXIT
db=$(echo "$PG" | sed -E "s#/[^/?]*(\?|$)#/$name\1#")
"$PAYHUB" migrate --database-url "$db" >/dev/null

# ROWS payments waiting for their buyers, a stored notification for each, one endpoint.
psql -q "$db" >/dev/null <<SQL
INSERT INTO payments (id, mode, provider, channel, status, amount, currency, metadata, provider_options,
  version, provider_payment_id, created_at, updated_at)
  SELECT 'pay_' || g, 'test', 'paypal', 'paypal', 'requires_action', 1000, 'USD', '{}', '{}', 1,
    'ORDER-' || g, 1, 1 FROM generate_series(1, $ROWS) AS g;
INSERT INTO inbox (provider, mode, provider_event_id, event_type, body, headers, status, attempts,
  next_attempt_at, received_at)
  SELECT 'paypal', 'test', 'WH-' || g, 'PAYMENT.CAPTURE.COMPLETED', '\\x7b7d', '[]', 'pending', 1, 1, 1
  FROM generate_series(1, $ROWS) AS g;
INSERT INTO webhook_endpoints (id, mode, url, secret, event_types, status, created_at, updated_at)
  VALUES ('we_1', 'test', 'https://shop.example/hooks', 'whsec_x', '["*"]', 'enabled', 0, 0);
VACUUM ANALYZE;
SQL

# One unit; :k is the payment (and the notification) it applies. The event's data is about the
# size of a payment's as the hub writes it.
unit() {
  local k=$1 savepoint=$2
  cat <<SQL
\\set $k random(1, $ROWS)
${savepoint}SELECT * FROM payments WHERE id = 'pay_' || :$k FOR UPDATE;
UPDATE payments SET status = 'succeeded', amount_refunded = 0, amount_refund_pending = 0, next_action = NULL,
  provider_payment_id = 'ORDER-' || :$k, provider_capture_id = 'CAP-' || :$k, failure_code = NULL,
  failure_message = NULL, next_check_at = NULL, updated_at = 2, amount_captured = 1000, anomaly = NULL,
  disputed = 0, amount_capturable = 0, provider_authorization_id = NULL, authorization_expires_at = NULL,
  pending_reason = NULL, version = version + 1 WHERE id = 'pay_' || :$k;
INSERT INTO transitions (resource_id, from_status, to_status, cause, at)
  VALUES ('pay_' || :$k, 'requires_action', 'succeeded', '{"kind":"notification"}', 2);
INSERT INTO events (id, mode, type, resource_id, sequence, data, created_at)
  SELECT 'evt_' || gen_random_uuid(), 'test', 'payment.succeeded', 'pay_' || :$k, COALESCE(MAX(sequence), 0) + 1,
    '{"object":"payment","padding":"' || repeat('p', 1400) || '"}', 2 FROM events WHERE resource_id = 'pay_' || :$k
  RETURNING id AS event_$k \\gset
SELECT id, event_types FROM webhook_endpoints WHERE mode = 'test' AND status = 'enabled' AND (NULL::text IS NULL OR id = NULL);
INSERT INTO deliveries (id, event_id, endpoint_id, mode, status, attempts, next_attempt_at, created_at)
  VALUES ('dlv_' || gen_random_uuid(), :event_$k, 'we_1', 'test', 'pending', 0, 2, 2)
  ON CONFLICT (event_id, endpoint_id) DO NOTHING;
UPDATE inbox SET status = 'processed', processed_at = 2, locked_until = NULL, last_error = NULL WHERE id = :$k;
SQL
}

script="$work/apply.sql"
{
  # The payment read outside the transaction, as the processor finds it.
  for i in $(seq 1 "$GROUP"); do echo "\\set r$i random(1, $ROWS)"; echo "SELECT * FROM payments WHERE id = 'pay_' || :r$i;"; done
  echo "BEGIN;"
  for i in $(seq 1 "$GROUP"); do
    if [ "$GROUP" -gt 1 ]; then unit "k$i" "SAVEPOINT unit; "; else unit "k$i" ""; fi
  done
  echo "COMMIT;"
} > "$script"

out=$(pgbench -n -M prepared -f "$script" -c "$CLIENTS" -j "$CLIENTS" -T "$SECONDS_RUN" "$db" 2>&1) || { echo "$out" >&2; exit 1; }
tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
latency=$(echo "$out" | sed -n 's/^latency average = \([0-9.]*\) ms/\1/p')
awk -v tps="$tps" -v g="$GROUP" -v c="$CLIENTS" -v l="$latency" 'BEGIN {
  printf "apply units on PostgreSQL, %d clients, %d per commit: %.0f/s (a transaction every %.2f ms per client)\n", c, g, tps * g, l }'
