//! Claiming work under a lease. Due rows are claimed, not just read: the lease is written in
//! the same statement that picks them, so several instances never take (and act on) the same
//! row at once, and a crashed instance's claims come due again when the lease ends. On
//! PostgreSQL `SKIP LOCKED` lets claimers take disjoint batches without waiting on each other;
//! SQLite's single writer serializes the claims instead.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;

use crate::param::Param;
use crate::table::Table;
use crate::{Database, Dialect, StoreError, millis};

/// What differs between the kinds of claimable work. In the SQL, `$1` is the end of the lease
/// and `$2` is now.
pub(crate) struct LeaseClaim<'a> {
    table: &'static str,
    /// When a row is due.
    due: &'static str,
    /// Which due rows go first.
    order_by: &'static str,
    /// What taking the lease writes.
    lease: &'static str,
    returning: &'a [&'static str],
}

/// How a batch claim is shared between groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shares {
    /// Rows in the batch, all groups together.
    pub limit: u32,
    /// Rows of one group in the batch.
    pub per_group: u32,
}

impl Shares {
    /// How many of the oldest due rows a claim looks at: enough for a batch from several groups
    /// when one group is far behind, few enough to keep the claim's cost flat.
    fn window(self) -> u32 {
        self.limit.saturating_mul(16)
    }
}

impl<'a> LeaseClaim<'a> {
    /// A queue of attempts (notifications to apply, deliveries to send): pending rows whose next
    /// attempt is due and whose earlier lease, if any, has run out. Each claim is an attempt.
    pub(crate) const fn attempts(table: &'static str, order_by: &'static str, returning: &'a [&'static str]) -> Self {
        Self {
            table,
            due: "status = 'pending' AND next_attempt_at <= $2 AND (locked_until IS NULL OR locked_until <= $2)",
            order_by,
            lease: "locked_until = $1, attempts = attempts + 1",
            returning,
        }
    }

    /// Resources whose next provider check is due. The lease is the next check itself, pushed
    /// to the end of the lease: a finished check sets the real next one.
    const fn checks(table: &'static str, returning: &'a [&'static str]) -> Self {
        Self {
            table,
            due: "next_check_at IS NOT NULL AND next_check_at <= $2",
            order_by: "next_check_at",
            lease: "next_check_at = $1",
            returning,
        }
    }

    /// The claim of up to `$3` due rows, oldest first.
    fn sql(&self, dialect: Dialect) -> String {
        let LeaseClaim { table, due, order_by, lease, returning } = self;
        format!(
            "UPDATE {table} SET {lease} WHERE id IN (SELECT id FROM {table} WHERE {due} \
             ORDER BY {order_by} LIMIT $3{}) RETURNING {}",
            dialect.skip_locked(),
            returning.join(", ")
        )
    }

    /// The claim of a batch shared fairly between groups (a delivery's endpoint): at most `$4`
    /// rows of one group among up to `$3` rows, picked from the `$5` oldest due rows and leaving
    /// out rows of the groups `groups.left_out` names (bound from `$6` on). The groups
    /// `groups.may_fill` names (bound after those) may take more than `$4`: what the batch has
    /// left once every group had its share, oldest first. The window is bounded so a claim
    /// costs the same whatever the backlog.
    ///
    /// On PostgreSQL only the rows picked are locked (`SKIP LOCKED`, and checked as due again
    /// once locked), not the window they are ranked in: a row lock is a write to the row and
    /// to the WAL, and locking the 4,096-row window cost a claim of 64 seven times the WAL (see
    /// BENCHMARKS.md, "Delivery on PostgreSQL"). Two instances claiming at the same moment rank
    /// the same rows, and the one that comes second gets fewer (those the first took are
    /// skipped): it claims again at its next signal or poll.
    pub(crate) fn sql_shared(&self, dialect: Dialect, groups: &Groups<'_>) -> String {
        let LeaseClaim { table, due, order_by, lease, returning } = self;
        let group = groups.column;
        let skipped = match groups.left_out.len() {
            0 => String::new(),
            n => format!(" AND {group} NOT IN {}", values(6, n)),
        };
        // Shares first, then the rest of the batch to the groups that may fill it.
        let (filling, shares_first) = match groups.may_fill.len() {
            0 => (String::new(), ""),
            n => (format!(" OR {group} IN {}", values(6 + groups.left_out.len(), n)), "place > $4, "),
        };
        let picked = format!(
            "SELECT id FROM (SELECT id, {group}, {order_by}, \
             ROW_NUMBER() OVER (PARTITION BY {group} ORDER BY {order_by}, id) AS place FROM \
             (SELECT id, {group}, {order_by} FROM {table} WHERE {due}{skipped} ORDER BY {order_by} LIMIT $5) \
             AS oldest) AS ranked WHERE place <= $4{filling} ORDER BY {shares_first}{order_by} LIMIT $3"
        );
        let taken = match dialect.skip_locked() {
            "" => picked,
            lock => format!("SELECT id FROM {table} WHERE id IN ({picked}) AND {due}{lock}"),
        };
        format!("UPDATE {table} SET {lease} WHERE id IN ({taken}) RETURNING {}", returning.join(", "))
    }
}

/// How a shared claim treats groups (see [`LeaseClaim::sql_shared`]).
pub(crate) struct Groups<'a> {
    /// The column rows are grouped by.
    pub column: &'static str,
    /// Groups whose rows are left for a later claim.
    pub left_out: &'a [&'a str],
    /// Groups that may take what the batch has left after every group's share.
    pub may_fill: &'a [&'a str],
}

/// `($first, …)`: `count` values bound from `$first` on.
fn values(first: usize, count: usize) -> String {
    let values: Vec<String> = (first..first + count).map(|n| format!("${n}")).collect();
    format!("({})", values.join(", "))
}

impl Database {
    /// Claims up to `limit` rows due at `now` until `lease_until`, returning `claim.returning`
    /// (in no particular order).
    pub(crate) async fn claim_leased(
        &self,
        claim: &LeaseClaim<'_>,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<AnyRow>, StoreError> {
        let mut tx = self.begin().await?;
        let sql = claim.sql(tx.dialect());
        let params = vec![millis(lease_until).into(), millis(now).into(), i64::from(limit).into()];
        let rows = tx.fetch_all(&sql, params).await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// Claims a batch of up to `shares.limit` rows due at `now` until `lease_until`, at most
    /// `shares.per_group` of any one group but those that may fill the batch, leaving out the
    /// groups left out (see [`LeaseClaim::sql_shared`]).
    pub(crate) async fn claim_leased_shared(
        &self,
        claim: &LeaseClaim<'_>,
        groups: &Groups<'_>,
        shares: Shares,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<AnyRow>, StoreError> {
        let mut tx = self.begin().await?;
        let sql = claim.sql_shared(tx.dialect(), groups);
        let mut params: Vec<Param<'_>> = vec![
            millis(lease_until).into(),
            millis(now).into(),
            i64::from(shares.limit).into(),
            i64::from(shares.per_group).into(),
            i64::from(shares.window()).into(),
        ];
        params.extend(groups.left_out.iter().chain(groups.may_fill).map(|value| Param::from(*value)));
        let rows = tx.fetch_all(&sql, params).await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// Claims up to `limit` resources of `table` whose next provider check is due at `now`.
    pub(crate) async fn claim_checks<T, const N: usize>(
        &self,
        table: &Table<T, N>,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<T>, StoreError> {
        let rows = self.claim_leased(&LeaseClaim::checks(table.name, &table.columns), now, lease_until, limit).await?;
        rows.iter().map(table.decode).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deliveries::DELIVERIES_DUE;
    use crate::inbox::NOTIFICATIONS_DUE;

    #[test]
    fn a_notification_claim_counts_an_attempt_and_skips_rows_other_instances_hold() {
        assert_eq!(
            NOTIFICATIONS_DUE.sql(Dialect::Postgres),
            "UPDATE inbox SET locked_until = $1, attempts = attempts + 1 WHERE id IN (SELECT id FROM inbox \
             WHERE status = 'pending' AND next_attempt_at <= $2 AND (locked_until IS NULL OR locked_until <= $2) \
             ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
             RETURNING id, provider, mode, provider_event_id, event_type, body, attempts"
        );
    }

    #[test]
    fn a_delivery_claim_takes_the_longest_waiting_first_and_sqlite_needs_no_row_locks() {
        let sql = DELIVERIES_DUE.sql(Dialect::Sqlite);
        assert!(sql.ends_with(
            "ORDER BY next_attempt_at LIMIT $3) RETURNING id, event_id, endpoint_id, attempts, locked_until"
        ));
    }

    /// SQLite's plan of `sql`, one step a line, with every parameter bound to 1.
    async fn sqlite_plan(db: &Database, sql: &str, params: usize) -> Vec<String> {
        use sqlx::Row;
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        let params: Vec<Param<'_>> = (0..params).map(|_| 1_i64.into()).collect();
        let rows = db.read_all(&explain, &params).await.unwrap();
        rows.iter().map(|row| row.try_get("detail").unwrap()).collect()
    }

    /// Every claim finds its due rows through its partial index, with the plan SQLite makes
    /// itself: payhub runs no ANALYZE, so there are no statistics to steer it (a claim of the
    /// inbox ordered by id alone walked the whole table, processed rows and all).
    #[tokio::test]
    async fn every_claim_reads_only_its_index_of_due_rows_on_sqlite_without_statistics() {
        let t = crate::testing::TestDatabase::sqlite().await;
        let checks = |table| LeaseClaim::checks(table, &["id"]).sql(Dialect::Sqlite);
        let claims = [
            ("inbox", "inbox_due", NOTIFICATIONS_DUE.sql(Dialect::Sqlite), 3),
            ("mails", "mails_due", crate::mail::MAILS_DUE.sql(Dialect::Sqlite), 3),
            ("deliveries", "deliveries_due", DELIVERIES_DUE.sql(Dialect::Sqlite), 3),
            (
                "deliveries",
                "deliveries_due",
                DELIVERIES_DUE.sql_shared(Dialect::Sqlite, &endpoints(&["we_a"], &["we_b"])),
                7,
            ),
            ("payments", "payments_due_for_check", checks("payments"), 3),
            ("refunds", "refunds_due_for_check", checks("refunds"), 3),
            ("subscriptions", "subscriptions_due_for_check", checks("subscriptions"), 3),
            ("disputes", "disputes_due_for_check", checks("disputes"), 3),
        ];
        for (table, index, sql, params) in claims {
            let plan = sqlite_plan(&t.db, &sql, params).await;
            assert!(plan.iter().any(|step| step.contains(&format!("USING INDEX {index}"))), "{table}: {plan:?}");
            // No walk of the whole table; a plain claim needs no sort either (the shared one
            // ranks its bounded window of the oldest due rows).
            assert!(!plan.iter().any(|step| step.starts_with(&format!("SCAN {table}"))), "{table}: {plan:?}");
            let ranked = sql.contains("ROW_NUMBER");
            assert!(ranked || !plan.iter().any(|step| step.contains("TEMP B-TREE")), "{table}: {plan:?}");
        }
    }

    #[tokio::test]
    async fn the_notification_claim_sorts_nothing_on_postgres_when_a_backlog_is_due_at_one_time() {
        use sqlx::Row;
        let Some(t) = crate::testing::TestDatabase::postgres().await else { return };
        // A backlog received within one millisecond: every row ties on next_attempt_at.
        let mut tx = t.db.begin().await.unwrap();
        tx.execute(
            "INSERT INTO inbox (provider, mode, provider_event_id, event_type, body, headers, status, \
             next_attempt_at, received_at) SELECT 'paypal', 'live', 'WH-' || g, 'PAYMENT.CAPTURE.COMPLETED', \
             '\\x7b7d', '{}', 'pending', 1000, 1000 FROM generate_series(1, 20000) AS g",
            Vec::new(),
        )
        .await
        .unwrap();
        tx.execute("ANALYZE inbox", Vec::new()).await.unwrap();
        tx.commit().await.unwrap();
        let explain = format!("EXPLAIN {}", NOTIFICATIONS_DUE.sql(Dialect::Postgres));
        let rows = t.db.read_all(&explain, &[2000_i64.into(), 1500_i64.into(), 32_i64.into()]).await.unwrap();
        let plan: Vec<String> = rows.iter().map(|row| row.try_get("QUERY PLAN").unwrap()).collect();
        assert!(plan.iter().any(|step| step.contains("Index Scan using inbox_due")), "{plan:#?}");
        // No sort of the tied rows (nor of the whole backlog) to find the first 32 by id.
        assert!(!plan.iter().any(|step| step.contains("Sort")), "{plan:#?}");
    }

    fn endpoints<'a>(left_out: &'a [&'a str], may_fill: &'a [&'a str]) -> Groups<'a> {
        Groups { column: "endpoint_id", left_out, may_fill }
    }

    #[test]
    fn a_claim_can_leave_out_rows_of_busy_endpoints() {
        let sql = DELIVERIES_DUE.sql_shared(Dialect::Sqlite, &endpoints(&["we_a", "we_b"], &[]));
        assert!(sql.contains("AND endpoint_id NOT IN ($6, $7) ORDER BY next_attempt_at LIMIT $5)"), "{sql}");
        assert!(sql.contains("WHERE place <= $4 ORDER BY next_attempt_at LIMIT $3"), "{sql}");
    }

    #[test]
    fn endpoints_that_may_fill_the_batch_take_its_rest_after_every_share() {
        let sql = DELIVERIES_DUE.sql_shared(Dialect::Sqlite, &endpoints(&["we_a"], &["we_b", "we_c"]));
        assert!(sql.contains("NOT IN ($6)"), "{sql}");
        assert!(
            sql.contains("WHERE place <= $4 OR endpoint_id IN ($7, $8) ORDER BY place > $4, next_attempt_at LIMIT $3"),
            "{sql}"
        );
    }

    #[test]
    fn a_shared_claim_locks_only_the_rows_it_picks_and_checks_them_due_again() {
        let due = "status = 'pending' AND next_attempt_at <= $2 AND (locked_until IS NULL OR locked_until <= $2)";
        assert_eq!(
            DELIVERIES_DUE.sql_shared(Dialect::Postgres, &endpoints(&["we_a"], &[])),
            format!(
                "UPDATE deliveries SET locked_until = $1, attempts = attempts + 1 WHERE id IN (SELECT id FROM \
                 deliveries WHERE id IN (SELECT id FROM (SELECT id, endpoint_id, next_attempt_at, ROW_NUMBER() OVER \
                 (PARTITION BY endpoint_id ORDER BY next_attempt_at, id) AS place FROM (SELECT id, endpoint_id, \
                 next_attempt_at FROM deliveries WHERE {due} AND endpoint_id NOT IN ($6) \
                 ORDER BY next_attempt_at LIMIT $5) AS oldest) AS ranked WHERE place <= $4 \
                 ORDER BY next_attempt_at LIMIT $3) AND {due} FOR UPDATE SKIP LOCKED) \
                 RETURNING id, event_id, endpoint_id, attempts, locked_until"
            )
        );
        assert!(!DELIVERIES_DUE.sql_shared(Dialect::Sqlite, &endpoints(&[], &[])).contains("NOT IN"));
    }

    #[test]
    fn a_check_claim_pushes_the_next_check_to_the_end_of_the_lease() {
        assert_eq!(
            LeaseClaim::checks("refunds", &["id", "status"]).sql(Dialect::Postgres),
            "UPDATE refunds SET next_check_at = $1 WHERE id IN (SELECT id FROM refunds \
             WHERE next_check_at IS NOT NULL AND next_check_at <= $2 ORDER BY next_check_at LIMIT $3 \
             FOR UPDATE SKIP LOCKED) RETURNING id, status"
        );
    }
}
