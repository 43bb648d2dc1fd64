#!/usr/bin/env bash
# The plans of payhub's hot queries on both stores, over tables holding ROWS rows each
# (default 1,000,000): inbox insert and claim, payment by id, event insert (its sequence read
# from the index), outbox claim (shared between endpoints), the record of a batch of attempts
# and the reconciler's claim of payments due for a check. Run it at 1000 and at 1000000 rows to
# see the cost stay flat.
#
#   scripts/explain-hot-queries.sh [ROWS]
#   PAYHUB=target/release/payhub PG=postgres://postgres@127.0.0.1:5432/postgres scripts/explain-hot-queries.sh 1000
set -euo pipefail
ROWS=${1:-1000000}
PAYHUB=${PAYHUB:-target/release/payhub}
PG=${PG:-${PAYHUB_BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# Rows as the hub writes them: all but the last 100 notifications, deliveries and payments done
# (a final payment has no next check; the last 100 wait for their buyers and are due).
fill() { # the dialect's literal of a two-byte body
  local BODY=$1
  echo "
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $ROWS)
INSERT INTO inbox (provider, mode, provider_event_id, event_type, body, headers, status, attempts, next_attempt_at, received_at)
SELECT 'paypal', 'test', 'WH-' || i, 'PAYMENT.CAPTURE.COMPLETED', $BODY, '[]',
       CASE WHEN i > $ROWS - 100 THEN 'pending' ELSE 'processed' END, 1, i, i FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $ROWS)
INSERT INTO payments (id, mode, provider, channel, status, amount, currency, metadata, provider_options, version, next_check_at, created_at, updated_at)
SELECT 'pay_' || i, 'test', 'paypal', 'paypal', CASE WHEN i > $ROWS - 100 THEN 'requires_action' ELSE 'succeeded' END,
       1000, 'USD', '{}', '{}', 1, CASE WHEN i > $ROWS - 100 THEN i END, i, i FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $ROWS)
INSERT INTO events (id, mode, type, resource_id, sequence, data, created_at)
SELECT 'evt_' || i, 'test', 'payment.succeeded', 'pay_' || (i / 2), 1 + i % 2, '{}', i FROM n;
INSERT INTO webhook_endpoints (id, mode, url, secret, event_types, status, created_at, updated_at)
VALUES ('we_1', 'test', 'https://shop.example/hooks', 'whsec_x', '[\"*\"]', 'enabled', 0, 0);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $ROWS)
INSERT INTO deliveries (id, event_id, endpoint_id, mode, status, attempts, next_attempt_at, created_at)
SELECT 'dlv_' || i, 'evt_' || i, 'we_1', 'test',
       CASE WHEN i > $ROWS - 100 THEN 'pending' ELSE 'delivered' END, 1, i, i FROM n;
"
}
NOW=$((ROWS + 1))
claim() { # table order-by skip-locked
  echo "UPDATE $1 SET locked_until = $NOW + 60000, attempts = attempts + 1 WHERE id IN (SELECT id FROM $1
  WHERE status = 'pending' AND next_attempt_at <= $NOW AND (locked_until IS NULL OR locked_until <= $NOW)
  ORDER BY $2 LIMIT 32$3) RETURNING id"
}
# The dispatcher's claim: 256 deliveries, at most 64 of one endpoint, among the 4096 oldest due;
# on PostgreSQL only the rows picked are locked (and checked as due again).
outbox_claim() { # skip-locked
  local due="status = 'pending' AND next_attempt_at <= $NOW AND (locked_until IS NULL OR locked_until <= $NOW)"
  local picked="SELECT id FROM (SELECT id, next_attempt_at, ROW_NUMBER() OVER (PARTITION BY endpoint_id
  ORDER BY next_attempt_at, id) AS place FROM (SELECT id, endpoint_id, next_attempt_at FROM deliveries WHERE $due
  ORDER BY next_attempt_at LIMIT 4096) AS oldest) AS ranked WHERE place <= 64 ORDER BY next_attempt_at LIMIT 256"
  local taken=$picked
  if [ -n "$1" ]; then taken="SELECT id FROM deliveries WHERE id IN ($picked) AND $due$1"; fi
  echo "UPDATE deliveries SET locked_until = $NOW + 60000, attempts = attempts + 1 WHERE id IN ($taken) RETURNING id"
}
# The reconciler's claim of a page of payments due for a check (`claim_payments_due`): the lease
# is the next check itself, pushed to the end of the lease.
payments_due() { # skip-locked
  echo "UPDATE payments SET next_check_at = $NOW + 60000 WHERE id IN (SELECT id FROM payments
  WHERE next_check_at IS NOT NULL AND next_check_at <= $NOW ORDER BY next_check_at LIMIT 200$1) RETURNING *"
}
# Three finished attempts recorded in one statement, as the dispatcher's recorder does a batch.
outbox_record="WITH recorded (id, status, next_attempt_at, delivered_at, last_status_code, last_error) AS (VALUES
  ('dlv_$ROWS', 'delivered', $NOW, $NOW, 204, NULL), ('dlv_$((ROWS - 1))', 'pending', $NOW + 5000, NULL, 503, 'HTTP 503'),
  ('dlv_$((ROWS - 2))', 'failed', $NOW, NULL, 410, 'HTTP 410'))
  UPDATE deliveries SET status = recorded.status, next_attempt_at = recorded.next_attempt_at,
  delivered_at = recorded.delivered_at, locked_until = NULL, last_status_code = recorded.last_status_code,
  last_error = recorded.last_error FROM recorded WHERE deliveries.id = recorded.id AND deliveries.status = 'pending'"
event_insert="INSERT INTO events (id, mode, type, resource_id, sequence, data, created_at)
  SELECT 'evt_new', 'test', 'payment.refunded', 'pay_4242', COALESCE(MAX(sequence), 0) + 1, '{}', $NOW
  FROM events WHERE resource_id = 'pay_4242'"
payment_by_id="SELECT * FROM payments WHERE id = 'pay_4242' AND mode = 'test'"

echo "== SQLite, $ROWS rows"
db="$WORK/explain.db"
"$PAYHUB" migrate --database-url "sqlite://$db" >/dev/null
sqlite3 "$db" "$(fill "X'7B7D'") ANALYZE;"
for q in \
  "INSERT INTO inbox (provider, mode, provider_event_id, event_type, body, headers, status, attempts, next_attempt_at, received_at) VALUES ('paypal', 'test', 'WH-new-1', 't', X'7B7D', '[]', 'pending', 0, 1, 1), ('paypal', 'test', 'WH-1', 't', X'7B7D', '[]', 'pending', 0, 1, 1) ON CONFLICT (provider, provider_event_id) DO NOTHING RETURNING provider, provider_event_id" \
  "$(claim inbox 'next_attempt_at, id' '')" "$payment_by_id" "$event_insert" "$(outbox_claim '')" "$outbox_record" \
  "$(payments_due '')"; do
  echo "-- $(echo "$q" | tr -s ' \n' ' ' | cut -c1-110)…"
  sqlite3 "$db" "EXPLAIN QUERY PLAN $q;"
  sqlite3 -cmd ".timer on" "$db" "BEGIN; $q; ROLLBACK;" | grep -i "^run time" | tail -2 || true
done

echo "== PostgreSQL, $ROWS rows"
name="payhub_explain_$$"
psql -q "$PG" -c "CREATE DATABASE $name" >/dev/null
trap 'psql -q "$PG" -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null; rm -rf "$WORK"' EXIT
pgdb=$(echo "$PG" | sed -E "s#/[^/?]*(\?|$)#/$name\1#")
"$PAYHUB" migrate --database-url "$pgdb" >/dev/null
psql -q "$pgdb" -c "$(fill "'\\x7b7d'::bytea")" -c "VACUUM ANALYZE" >/dev/null
for q in \
  "INSERT INTO inbox (provider, mode, provider_event_id, event_type, body, headers, status, attempts, next_attempt_at, received_at) SELECT provider, mode, provider_event_id, event_type, body, headers, 'pending', 0, received_at, received_at FROM UNNEST('{paypal,paypal}'::text[], '{test,test}'::text[], '{WH-new-1,WH-1}'::text[], '{t,t}'::text[], ARRAY['\\x7b7d', '\\x7b7d']::bytea[], '{[],[]}'::text[], '{1,1}'::bigint[]) WITH ORDINALITY AS batch (provider, mode, provider_event_id, event_type, body, headers, received_at, n) ORDER BY n ON CONFLICT (provider, provider_event_id) DO NOTHING RETURNING provider, provider_event_id" \
  "$(claim inbox 'next_attempt_at, id' ' FOR UPDATE SKIP LOCKED')" "$payment_by_id" "$event_insert" \
  "$(outbox_claim ' FOR UPDATE SKIP LOCKED')" "$outbox_record" "$(payments_due ' FOR UPDATE SKIP LOCKED')"; do
  echo "-- $(echo "$q" | tr -s ' \n' ' ' | cut -c1-110)…"
  psql -q "$pgdb" -c "BEGIN" -c "EXPLAIN (ANALYZE, COSTS OFF, SUMMARY ON) $q" -c "ROLLBACK" | grep -v "^$\|QUERY PLAN\|^---\|rows)"
done
