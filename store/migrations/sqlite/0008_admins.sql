-- Operators of the console. Passwords are kept as argon2 PHC strings, never in clear.
CREATE TABLE admins (
    email          TEXT PRIMARY KEY,
    password_hash  TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);

-- Console sessions live on the server, so logging out or expiry ends them for good; the
-- cookie holds a random token of which only the SHA-256 is stored here.
CREATE TABLE admin_sessions (
    token_hash  TEXT PRIMARY KEY,
    email       TEXT NOT NULL REFERENCES admins (email) ON DELETE CASCADE,
    csrf_token  TEXT NOT NULL,
    mode        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX admin_sessions_by_expiry ON admin_sessions (expires_at);
