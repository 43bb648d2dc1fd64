#!/usr/bin/env python3
"""The floor of applying a notification on SQLite: the statements of one apply unit (lock the
payment, update it, record the transition, the event with its sequence, read the endpoints,
queue the delivery, mark the inbox row) run back to back on one connection of Python's own
sqlite3 module, with no hand-off to another thread between them, GROUP units per commit, on
payhub's schema and pragmas (WAL, synchronous = FULL). It shows what any SQLite layer could
reach on this machine, whatever carries the statements.

    cargo build --release -p payhub
    scripts/sqlite-apply-floor.py [UNITS] [GROUP] [PAYHUB]   # defaults: 10000 32 target/release/payhub
"""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

UNITS = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
GROUP = int(sys.argv[2]) if len(sys.argv) > 2 else 32
PAYHUB = sys.argv[3] if len(sys.argv) > 3 else "target/release/payhub"

# The payment's columns `Tx::update_payment` writes, in its order.
UPDATED = ["status", "amount_refunded", "amount_refund_pending", "next_action", "provider_payment_id",
           "provider_capture_id", "failure_code", "failure_message", "next_check_at", "updated_at",
           "amount_captured", "anomaly", "disputed", "amount_capturable", "provider_authorization_id",
           "authorization_expires_at", "pending_reason"]


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
    db.execute("INSERT INTO webhook_endpoints (id, mode, url, secret, event_types, status, created_at, updated_at) "
               "VALUES ('we_1', 'test', 'https://shop.example/hooks', 'whsec_x', '[\"*\"]', 'enabled', 0, 0)")
    db.execute("COMMIT")


def apply_all(db):
    # About the size of a payment's event data as the hub writes it.
    data = json.dumps({"object": "payment", "padding": "p" * 1400})
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
        db.execute("INSERT INTO events (id, mode, type, resource_id, sequence, data, created_at) "
                   "SELECT ?, 'test', 'payment.succeeded', ?, COALESCE(MAX(sequence), 0) + 1, ?, 2 "
                   "FROM events WHERE resource_id = ?", (event, payment, data, payment))
        endpoints = db.execute("SELECT id, event_types FROM webhook_endpoints WHERE mode = 'test' "
                               "AND status = 'enabled' AND (? IS NULL OR id = ?)", (None, None)).fetchall()
        for (endpoint, _) in endpoints:
            db.execute("INSERT INTO deliveries (id, event_id, endpoint_id, mode, status, attempts, next_attempt_at, "
                       "created_at) VALUES (?, ?, ?, 'test', 'pending', 0, 2, 2) "
                       "ON CONFLICT (event_id, endpoint_id) DO NOTHING", (f"dlv_{i:08}", event, endpoint))
        db.execute("UPDATE inbox SET status = 'processed', processed_at = 2, locked_until = NULL, "
                   "last_error = NULL WHERE id = ?", (i + 1,))
        if i % GROUP == GROUP - 1 or i == UNITS - 1:
            db.execute("COMMIT")
    return time.perf_counter() - start


def main():
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "floor.db")
        subprocess.run([PAYHUB, "migrate", "--database-url", f"sqlite://{path}"], check=True,
                       stdout=subprocess.DEVNULL)
        db = sqlite3.connect(path, isolation_level=None)
        db.executescript("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
        backlog(db)
        elapsed = apply_all(db)
    print(f"{UNITS} apply units, {GROUP} per commit, SQLite {sqlite3.sqlite_version}: "
          f"{UNITS / elapsed:,.0f}/s, {elapsed / UNITS * 1e6:.0f} µs each")


if __name__ == "__main__":
    main()
