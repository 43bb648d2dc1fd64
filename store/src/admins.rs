//! Console operators and their server-side sessions.

use chrono::{DateTime, Utc};
use payhub_core::Mode;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::codec::{parsed, time};
use crate::{Database, StoreError, millis};

/// A live console session, found by the hash of its cookie's token.
#[derive(Debug, Clone)]
pub struct AdminSession {
    pub token_hash: String,
    pub email: String,
    /// Every form of the session carries it; a post without it is refused.
    pub csrf_token: String,
    /// Which mode's data the console shows; switched explicitly, never mixed.
    pub mode: Mode,
    pub expires_at: DateTime<Utc>,
}

fn session_from_row(row: &AnyRow) -> Result<AdminSession, StoreError> {
    Ok(AdminSession {
        token_hash: row.try_get("token_hash")?,
        email: row.try_get("email")?,
        csrf_token: row.try_get("csrf_token")?,
        mode: parsed(row, "mode", |s| s.parse().ok())?,
        expires_at: time(row, "expires_at")?,
    })
}

impl Database {
    /// Adds an operator, or replaces the password of one with that email; returns true when
    /// the operator is new.
    pub async fn upsert_admin(&self, email: &str, password_hash: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let updated = tx
            .execute_count(
                "UPDATE admins SET password_hash = $1 WHERE email = $2",
                vec![password_hash.into(), email.into()],
            )
            .await?;
        if updated == 0 {
            tx.execute(
                "INSERT INTO admins (email, password_hash, created_at) VALUES ($1, $2, $3)",
                vec![email.into(), password_hash.into(), millis(now).into()],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(updated == 0)
    }

    /// The stored password hash of an operator.
    pub async fn admin_password_hash(&self, email: &str) -> Result<Option<String>, StoreError> {
        let row = self.read_optional("SELECT password_hash FROM admins WHERE email = $1", &[email.into()]).await?;
        Ok(row.map(|r| r.try_get("password_hash")).transpose()?)
    }

    /// Opens a session; expired ones are dropped on the way, so the table stays small.
    pub async fn create_admin_session(&self, session: &AdminSession, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        tx.execute("DELETE FROM admin_sessions WHERE expires_at <= $1", vec![millis(now).into()]).await?;
        tx.execute(
            "INSERT INTO admin_sessions (token_hash, email, csrf_token, mode, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            vec![
                (&session.token_hash).into(),
                (&session.email).into(),
                (&session.csrf_token).into(),
                session.mode.as_str().into(),
                millis(now).into(),
                millis(session.expires_at).into(),
            ],
        )
        .await?;
        tx.commit().await
    }

    /// The session a token hash names, unless it has expired.
    pub async fn admin_session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AdminSession>, StoreError> {
        let row = self
            .read_optional(
                "SELECT token_hash, email, csrf_token, mode, expires_at FROM admin_sessions \
                 WHERE token_hash = $1 AND expires_at > $2",
                &[token_hash.into(), millis(now).into()],
            )
            .await?;
        row.as_ref().map(session_from_row).transpose()
    }

    pub async fn set_admin_session_mode(&self, token_hash: &str, mode: Mode) -> Result<(), StoreError> {
        let sql = "UPDATE admin_sessions SET mode = $1 WHERE token_hash = $2";
        self.write(sql, &[mode.as_str().into(), token_hash.into()]).await.map(drop)
    }

    pub async fn delete_admin_session(&self, token_hash: &str) -> Result<(), StoreError> {
        self.write("DELETE FROM admin_sessions WHERE token_hash = $1", &[token_hash.into()]).await.map(drop)
    }
}
