#!/usr/bin/env python3
"""The floor of a hot path on SQLite: the statements the hub sends for it, run back to back on
one connection of Python's own sqlite3 module, with no hand-off to another thread between them,
GROUP per commit, on payhub's schema and pragmas (WAL, synchronous = FULL). It shows what any
SQLite layer could reach on this machine, whatever carries the statements.

- `apply`: an apply unit per stored notification (lock the payment, update it, record the
  transition, the event with its sequence, read the endpoints, queue the delivery, mark the
  inbox row), GROUP units per commit.
- `create-payment`: a request's Idempotency-Key claim (GROUP keys inserted by one statement and
  committed together), then its payment unit (the payment, transition, event, endpoints read,
  delivery and the key's answer, under a savepoint), GROUP units per commit. The provider call
  between the two is left out.

    cargo build --release -p payhub
    scripts/sqlite-floor.py apply|create-payment [COUNT] [GROUP] [PAYHUB]
        # defaults: 10000 32 target/release/payhub
"""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

PATH = sys.argv[1] if len(sys.argv) > 1 else ""
UNITS = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
GROUP = int(sys.argv[3]) if len(sys.argv) > 3 else 32
PAYHUB = sys.argv[4] if len(sys.argv) > 4 else "target/release/payhub"
# About the size of a payment's event data as the hub writes it.
EVENT_DATA = json.dumps({"object": "payment", "padding": "p" * 1400})
ENDPOINTS = ("SELECT id, event_types FROM webhook_endpoints WHERE mode = 'test' "
             "AND status = 'enabled' AND (? IS NULL OR id = ?)")

# The payment's columns `Tx::update_payment` writes, in its order.
UPDATED = ["status", "amount_refunded", "amount_refund_pending", "next_action", "provider_payment_id",
           "provider_capture_id", "failure_code", "failure_message", "next_check_at", "updated_at",
           "amount_captured", "anomaly", "disputed", "amount_capturable", "provider_authorization_id",
           "authorization_expires_at", "pending_reason"]


def endpoint(db):
    db.execute("INSERT INTO webhook_endpoints (id, mode, url, secret, event_types, status, created_at, updated_at) "
               "VALUES ('we_1', 'test', 'https://shop.example/hooks', 'whsec_x', '[\"*\"]', 'enabled', 0, 0)")


def queue_deliveries(db, event, i):
    for (endpoint_id, _) in db.execute(ENDPOINTS, (None, None)).fetchall():
        db.execute("INSERT INTO deliveries (id, event_id, endpoint_id, mode, status, attempts, next_attempt_at, "
                   "created_at) VALUES (?, ?, ?, 'test', 'pending', 0, 2, 2) "
                   "ON CONFLICT (event_id, endpoint_id) DO NOTHING", (f"dlv_{i:08}", event, endpoint_id))


def insert_event(db, event, event_type, payment):
    db.execute("INSERT INTO events (id, mode, type, resource_id, sequence, data, created_at) "
               "SELECT ?, 'test', ?, ?, COALESCE(MAX(sequence), 0) + 1, ?, 2 "
               "FROM events WHERE resource_id = ?", (event, event_type, payment, EVENT_DATA, payment))


def backlog(db):
    """UNITS payments waiting for their buyers, a stored notification for each, one endpoint."""
    db.execute("BEGIN")
    for i in range(UNITS):
        db.execute("INSERT INTO payments (id, mode, provider, channel, status, amount, currency, metadata, "
                   "provider_options, version, provider_payment_id, created_at, updated_at) VALUES "
                   "(?, 'test', 'paypal', 'paypal', 'requires_action', 1000, 'USD', '{}', '{}', 1, ?, 1, 1)",
                   (f"pay_{i:08}", f"ORDER-{i}"))
        db.execute("INSERT INTO inbox (provider, mode, provider_event_id, event_type, body, headers, status, "
                   "attempts, next_attempt_at, received_at) VALUES "
                   "('paypal', 'test', ?, 'PAYMENT.CAPTURE.COMPLETED', X'7B7D', '[]', 'pending', 1, 1, 1)",
                   (f"WH-{i}",))
    endpoint(db)
    db.execute("COMMIT")


def apply_all(db):
    backlog(db)
    update = (f"UPDATE payments SET {', '.join(f'{c} = ?' for c in UPDATED)}, version = version + 1 "
              "WHERE id = ? AND version = ?")
    start = time.perf_counter()
    for i in range(UNITS):
        if i % GROUP == 0:
            db.execute("BEGIN")
        db.execute("SAVEPOINT unit")
        payment, event = f"pay_{i:08}", f"evt_{i:08}"
        assert db.execute("SELECT * FROM payments WHERE id = ?", (payment,)).fetchone()
        changed = db.execute(update, ("succeeded", 0, 0, None, f"ORDER-{i}", f"CAP-{i}", None, None, None, 2,
                                      1000, None, 0, 0, None, None, None, payment, 1))
        assert changed.rowcount == 1
        db.execute("INSERT INTO transitions (resource_id, from_status, to_status, cause, at) "
                   "VALUES (?, 'requires_action', 'succeeded', '{\"kind\":\"notification\"}', 2)", (payment,))
        insert_event(db, event, "payment.succeeded", payment)
        queue_deliveries(db, event, i)
        db.execute("UPDATE inbox SET status = 'processed', processed_at = 2, locked_until = NULL, "
                   "last_error = NULL WHERE id = ?", (i + 1,))
        if i % GROUP == GROUP - 1 or i == UNITS - 1:
            db.execute("COMMIT")
    return time.perf_counter() - start


def create_payments(db):
    db.execute("BEGIN")
    endpoint(db)
    db.execute("COMMIT")
    # A PayPal payment as created: waiting for its buyer at the approve link.
    next_action = json.dumps({"type": "redirect", "url": "https://www.paypal.com/checkoutnow?token=" + "T" * 17})
    answer = json.dumps({"id": "pay_x", "object": "payment", "padding": "p" * 900}).encode()
    start = time.perf_counter()
    for first in range(0, UNITS, GROUP):
        requests = range(first, min(first + GROUP, UNITS))
        # The claims of the group, one statement and one commit.
        db.execute("BEGIN")
        rows = ", ".join("('test', ?, ?, 'in_progress', 1, 'inst_1', ?)" for _ in requests)
        keys = [value for i in requests for value in (f"key-{i}", "f" * 64, f"req_{i:08}")]
        claimed = db.execute("INSERT INTO idempotency_keys (mode, key, request_fingerprint, status, created_at, "
                             f"holder, request_id) VALUES {rows} ON CONFLICT (mode, key) DO NOTHING "
                             "RETURNING mode, key", keys).fetchall()
        assert len(claimed) == len(requests)
        db.execute("COMMIT")
        # Their payment units, each under its savepoint, one commit.
        db.execute("BEGIN")
        for i in requests:
            payment, event = f"pay_{i:08}", f"evt_{i:08}"
            db.execute("SAVEPOINT part")
            db.execute("INSERT INTO payments (id, mode, provider, channel, status, amount, currency, "
                       "amount_captured, amount_refunded, amount_refund_pending, merchant_reference, metadata, "
                       "return_url, cancel_url, provider_options, next_action, provider_payment_id, version, "
                       "next_check_at, created_at, updated_at, disputed, origin, capture_method, amount_capturable) "
                       "VALUES (?, 'test', 'paypal', 'paypal', 'requires_action', 1000, 'USD', 0, 0, 0, ?, "
                       "'{\"order\":\"1001\"}', 'https://shop.example/return', 'https://shop.example/cancel', "
                       "'{}', ?, ?, 1, 3600000, 1, 1, 0, 'payhub', 'automatic', 0)",
                       (payment, f"order-{i}", next_action, f"ORDER-{i}"))
            db.execute("INSERT INTO transitions (resource_id, from_status, to_status, cause, at) "
                       "VALUES (?, 'created', 'requires_action', '{\"kind\":\"api\"}', 1)", (payment,))
            insert_event(db, event, "payment.requires_action", payment)
            queue_deliveries(db, event, i)
            db.execute("UPDATE idempotency_keys SET status = 'completed', response_status = 201, "
                       "response_content_type = 'application/json', response_body = ? WHERE mode = 'test' "
                       "AND key = ?", (answer, f"key-{i}"))
        db.execute("COMMIT")
    return time.perf_counter() - start


PATHS = {"apply": (apply_all, "apply units"), "create-payment": (create_payments, "payments created")}


def main():
    if PATH not in PATHS:
        sys.exit(f"usage: {sys.argv[0]} {'|'.join(PATHS)} [COUNT] [GROUP] [PAYHUB]")
    run, what = PATHS[PATH]
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "floor.db")
        subprocess.run([PAYHUB, "migrate", "--database-url", f"sqlite://{path}"], check=True,
                       stdout=subprocess.DEVNULL)
        db = sqlite3.connect(path, isolation_level=None)
        db.executescript("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
        elapsed = run(db)
    print(f"{UNITS} {what}, {GROUP} per commit, SQLite {sqlite3.sqlite_version}: "
          f"{UNITS / elapsed:,.0f}/s, {elapsed / UNITS * 1e6:.0f} µs each")


if __name__ == "__main__":
    main()
