//! Idempotency keys: the same key and the same request give the same response, once; the same
//! key with a different request is refused rather than silently answered with the old result.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use payhub_core::Mode;
use sqlx::Row;

use crate::instances::{Liveness, liveness};
use crate::param::Param;
use crate::{Database, StoreError, Tx, millis};

/// No API request runs this long: an `in_progress` key this old, held by a process this
/// database never saw register, belongs to a crashed process.
const ABANDONED_AFTER: chrono::Duration = chrono::Duration::minutes(5);
/// The holder of a key handed back by its process, for any retry to take over.
const HANDED_BACK: &str = "handed-back";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// The request is this process's to run, then [`Database::complete_idempotency_key`].
    Run(RequestRun),
    /// The same request is still running in a live process (a client retried too early).
    InProgress,
    /// The key was used for a different request.
    Mismatch,
    Completed(StoredResponse),
}

/// A request this process runs under its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRun {
    /// Names the resource the request creates; kept with the key, so it is the same on a retry.
    pub request_id: String,
    /// An earlier run of this request died with its process, and may have done part of its
    /// work: created the resource, or asked the provider for it.
    pub resumed: bool,
}

/// Who claims a key, and the request id a first run gets.
#[derive(Debug, Clone, Copy)]
pub struct Claimant<'a> {
    pub instance_id: &'a str,
    pub new_request_id: &'a str,
}

/// One request's claim of its key, among those committed together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyClaim {
    pub mode: Mode,
    pub key: String,
    pub fingerprint: String,
    /// The request id a first run gets.
    pub new_request_id: String,
}

impl Database {
    pub async fn claim_idempotency_key(
        &self,
        mode: Mode,
        key: &str,
        fingerprint: &str,
        claimant: Claimant<'_>,
        now: DateTime<Utc>,
    ) -> Result<IdempotencyClaim, StoreError> {
        let claim = KeyClaim {
            mode,
            key: key.to_owned(),
            fingerprint: fingerprint.to_owned(),
            new_request_id: claimant.new_request_id.to_owned(),
        };
        let mut claimed = self.claim_idempotency_keys(claimant.instance_id, std::slice::from_ref(&claim), now).await?;
        claimed.pop().ok_or_else(|| StoreError::Corrupt("a key claim gave no outcome".into()))
    }

    /// Claims the keys of several requests for `instance_id` in one commit, so they share its
    /// fsync: the keys are inserted with one statement, and only a key already held is read.
    /// The same key twice in `claims` is claimed by the first; the later ones find it held.
    /// Outcomes are in the order of `claims`.
    pub async fn claim_idempotency_keys(
        &self,
        instance_id: &str,
        claims: &[KeyClaim],
        now: DateTime<Utc>,
    ) -> Result<Vec<IdempotencyClaim>, StoreError> {
        let mut tx = self.begin().await?;
        let mut inserted = insert_new_keys(&mut tx, instance_id, claims, now).await?;
        let mut outcomes = Vec::with_capacity(claims.len());
        for claim in claims {
            let outcome = if inserted.remove(&(claim.mode.as_str().to_owned(), claim.key.clone())) {
                IdempotencyClaim::Run(RequestRun { request_id: claim.new_request_id.clone(), resumed: false })
            } else {
                claim_held_key(&mut tx, instance_id, claim, now).await?
            };
            outcomes.push(outcome);
        }
        tx.commit().await?;
        Ok(outcomes)
    }

    pub async fn complete_idempotency_key(
        &self,
        mode: Mode,
        key: &str,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        tx.complete_idempotency_key(mode, key, response).await?;
        tx.commit().await
    }

    /// Hands back the key of a request that could not finish because the database was
    /// unavailable: nothing of its answer was recorded, so the next retry takes the request
    /// over at once, with its request id (naming what it creates as this attempt did).
    pub async fn hand_back_idempotency_key(&self, mode: Mode, key: &str) -> Result<(), StoreError> {
        let sql = "UPDATE idempotency_keys SET holder = $3 WHERE mode = $1 AND key = $2 AND status = 'in_progress'";
        self.write(sql, &[mode.as_str().into(), key.into(), HANDED_BACK.into()]).await.map(drop)
    }

    /// Forgets a key whose request did not run to a result worth replaying (it was refused before
    /// doing anything), so the client may retry with the same key.
    pub async fn release_idempotency_key(&self, mode: Mode, key: &str) -> Result<(), StoreError> {
        let sql = "DELETE FROM idempotency_keys WHERE mode = $1 AND key = $2 AND status = 'in_progress'";
        self.write(sql, &[mode.as_str().into(), key.into()]).await.map(drop)
    }

    /// Drops keys older than `before` (clients retry within hours, not weeks).
    pub async fn purge_idempotency_keys(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.write("DELETE FROM idempotency_keys WHERE created_at < $1", &[millis(before).into()]).await
    }
}

impl Tx {
    /// Records the response of the request holding `key` in the caller's transaction: a
    /// request whose work is one unit of work answers in the same commit as that work, so no
    /// crash can leave the work done and the key still in progress.
    pub async fn complete_idempotency_key(
        &mut self,
        mode: Mode,
        key: &str,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        self.execute(
            "UPDATE idempotency_keys SET status = 'completed', response_status = $1, \
             response_content_type = $2, response_body = $3 WHERE mode = $4 AND key = $5",
            vec![
                i64::from(response.status).into(),
                (&response.content_type).into(),
                response.body.as_slice().into(),
                mode.as_str().into(),
                key.into(),
            ],
        )
        .await
    }
}

/// Inserts the keys of `claims` not yet held (the first claim of each key), and returns those
/// inserted, by mode and key.
async fn insert_new_keys(
    tx: &mut Tx,
    instance_id: &str,
    claims: &[KeyClaim],
    now: DateTime<Utc>,
) -> Result<HashSet<(String, String)>, StoreError> {
    let mut firsts = HashSet::new();
    let mut params: Vec<Param<'_>> = Vec::with_capacity(claims.len() * 6);
    let mut rows = Vec::with_capacity(claims.len());
    for claim in claims.iter().filter(|claim| firsts.insert((claim.mode.as_str(), claim.key.as_str()))) {
        let n = params.len();
        rows.push(format!("(${}, ${}, ${}, 'in_progress', ${}, ${}, ${})", n + 1, n + 2, n + 3, n + 4, n + 5, n + 6));
        params.extend([
            claim.mode.as_str().into(),
            claim.key.as_str().into(),
            claim.fingerprint.as_str().into(),
            millis(now).into(),
            instance_id.into(),
            claim.new_request_id.as_str().into(),
        ]);
    }
    let sql = format!(
        "INSERT INTO idempotency_keys (mode, key, request_fingerprint, status, created_at, holder, request_id) \
         VALUES {} ON CONFLICT (mode, key) DO NOTHING RETURNING mode, key",
        rows.join(", ")
    );
    let inserted = tx.fetch_all(&sql, params).await?;
    inserted.iter().map(|row| Ok((row.try_get("mode")?, row.try_get("key")?))).collect()
}

/// The outcome for a claim whose key was already held: a replay, a mismatch, a request still
/// running, or one whose process died, taken over here.
async fn claim_held_key(
    tx: &mut Tx,
    instance_id: &str,
    claim: &KeyClaim,
    now: DateTime<Utc>,
) -> Result<IdempotencyClaim, StoreError> {
    let (mode, key) = (claim.mode, claim.key.as_str());
    let row = tx
        .fetch_one(
            "SELECT request_fingerprint, status, created_at, holder, request_id, response_status, \
         response_content_type, response_body FROM idempotency_keys WHERE mode = $1 AND key = $2",
            vec![mode.as_str().into(), key.into()],
        )
        .await?;
    let stored_fingerprint: String = row.try_get("request_fingerprint")?;
    let status: String = row.try_get("status")?;
    if stored_fingerprint != claim.fingerprint {
        return Ok(IdempotencyClaim::Mismatch);
    }
    if status != "in_progress" {
        let code: Option<i64> = row.try_get("response_status")?;
        return Ok(IdempotencyClaim::Completed(StoredResponse {
            status: code.and_then(|c| u16::try_from(c).ok()).unwrap_or(500),
            content_type: row.try_get::<Option<String>, _>("response_content_type")?.unwrap_or_default(),
            body: row.try_get::<Option<Vec<u8>>, _>("response_body")?.unwrap_or_default(),
        }));
    }
    let holder: Option<String> = row.try_get("holder")?;
    let claimed_at: i64 = row.try_get("created_at")?;
    let holder_gone = match holder.as_deref() {
        Some(HANDED_BACK) => true,
        Some(holder) if holder == instance_id => false,
        Some(holder) => match liveness(tx, holder, now).await? {
            Liveness::Running => false,
            Liveness::Gone => true,
            Liveness::Unknown => claimed_at < millis(now - ABANDONED_AFTER),
        },
        None => claimed_at < millis(now - ABANDONED_AFTER),
    };
    // Taken over only as it was read: of two retries racing for a dead process's key, one
    // runs it.
    let taken_over = holder_gone
        && tx
            .execute_count(
                "UPDATE idempotency_keys SET holder = $1, created_at = $2, \
             request_id = COALESCE(request_id, $3) WHERE mode = $4 AND key = $5 \
             AND status = 'in_progress' AND created_at = $6 AND COALESCE(holder, '') = $7",
                vec![
                    instance_id.into(),
                    millis(now).into(),
                    (&claim.new_request_id).into(),
                    mode.as_str().into(),
                    key.into(),
                    claimed_at.into(),
                    holder.as_deref().unwrap_or("").into(),
                ],
            )
            .await?
            == 1;
    if !taken_over {
        return Ok(IdempotencyClaim::InProgress);
    }
    let earlier: Option<String> = row.try_get("request_id")?;
    Ok(IdempotencyClaim::Run(RequestRun {
        request_id: earlier.unwrap_or_else(|| claim.new_request_id.clone()),
        resumed: true,
    }))
}
