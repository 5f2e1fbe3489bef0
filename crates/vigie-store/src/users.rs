//! People who use the web console, and their server-side sessions. A session is found
//! by the SHA-256 of the id its cookie carries (the caller hashes it), so the table
//! never holds a usable session id.

use serde::Serialize;
use sqlx::{AnyConnection, AnyPool};

use crate::dialect::Dialect;
use crate::map_insert_error;
use crate::{Error, Millis, Result};

/// A console user, without their password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct User {
    /// The user's id.
    pub id: String,
    /// Their organisation.
    pub org_id: String,
    /// Their e-mail address, lower-cased.
    pub email: String,
    /// `viewer`, `engineer` or `admin`.
    pub role: String,
    /// Creation time.
    pub created_at: Millis,
    /// When the user was disabled, if they were.
    pub disabled_at: Option<Millis>,
}

/// A user with the hash their password is checked against.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserCredentials {
    /// The user.
    #[sqlx(flatten)]
    pub user: User,
    /// argon2id, PHC string format.
    pub password_hash: String,
}

/// What creating a user needs.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    /// The new user's id.
    pub id: &'a str,
    /// Their organisation.
    pub org_id: &'a str,
    /// Their e-mail address, lower-cased.
    pub email: &'a str,
    /// argon2id, PHC string format.
    pub password_hash: &'a str,
    /// `viewer`, `engineer` or `admin`.
    pub role: &'a str,
}

/// A signed-in session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// SHA-256 of the session id, hex.
    pub id_hash: String,
    /// The session's synchronizer token (CSRF).
    pub csrf_token: String,
    /// Creation time.
    pub created_at: Millis,
    /// Last request seen.
    pub last_seen_at: Millis,
    /// When it ends, whatever happens.
    pub expires_at: Millis,
}

/// One line of an organisation's audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct AuditEntry {
    /// Its position in the log.
    pub id: i64,
    /// The organisation.
    pub org_id: String,
    /// Who did it (a user's e-mail address, or `operator`).
    pub actor: String,
    /// What (`application.create`, `password.change`, …).
    pub action: String,
    /// On what (an application id, a user, an event id).
    pub target: String,
    /// When.
    pub at: Millis,
}

/// An invitation to join an organisation.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Invitation {
    /// SHA-256 of the invitation's token, hex.
    pub id_hash: String,
    /// The organisation.
    pub org_id: String,
    /// The invited address, lower-cased.
    pub email: String,
    /// The role they will have.
    pub role: String,
    /// Who invited them.
    pub invited_by: String,
    /// Until when the link works.
    pub expires_at: Millis,
}

const USER_COLUMNS: &str = "id, org_id, email, role, created_at, disabled_at";

/// Inserts a user; the new user as stored.
async fn insert_user(conn: &mut AnyConnection, user: &NewUser<'_>, now: Millis) -> Result<User> {
    sqlx::query(
        "INSERT INTO users (id, org_id, email, password_hash, role, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(user.id)
    .bind(user.org_id)
    .bind(user.email)
    .bind(user.password_hash)
    .bind(user.role)
    .bind(now)
    .execute(conn)
    .await
    .map_err(|e| {
        map_insert_error(
            e,
            || format!("user {:?}", user.email),
            ("organisation", user.org_id),
        )
    })?;
    Ok(User {
        id: user.id.to_owned(),
        org_id: user.org_id.to_owned(),
        email: user.email.to_owned(),
        role: user.role.to_owned(),
        created_at: now,
        disabled_at: None,
    })
}

pub(crate) async fn create_user(pool: &AnyPool, user: NewUser<'_>, now: Millis) -> Result<User> {
    let mut conn = pool.acquire().await?;
    insert_user(&mut conn, &user, now).await
}

pub(crate) async fn user_credentials(
    pool: &AnyPool,
    email: &str,
) -> Result<Option<UserCredentials>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = $1"
    ))
    .bind(email)
    .fetch_optional(pool)
    .await?)
}

pub(crate) async fn list_users(pool: &AnyPool, org_id: &str) -> Result<Vec<User>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE org_id = $1 ORDER BY email"
    ))
    .bind(org_id)
    .fetch_all(pool)
    .await?)
}

pub(crate) async fn set_password(
    pool: &AnyPool,
    dialect: Dialect,
    user_id: &str,
    password_hash: &str,
    keep_session: Option<&str>,
) -> Result<()> {
    let mut tx = pool.begin_with(dialect.begin()).await?;
    let changed = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(password_hash)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    if changed.rows_affected() == 0 {
        return Err(Error::NotFound {
            kind: "user",
            id: user_id.to_owned(),
        });
    }
    // A new password ends every other session of the user.
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2")
        .bind(user_id)
        .bind(keep_session.unwrap_or(""))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn create_session(pool: &AnyPool, user_id: &str, session: &Session) -> Result<()> {
    sqlx::query(
        "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&session.id_hash)
    .bind(user_id)
    .bind(&session.csrf_token)
    .bind(session.created_at)
    .bind(session.last_seen_at)
    .bind(session.expires_at)
    .execute(pool)
    .await
    .map_err(|e| map_insert_error(e, || "session".into(), ("user", user_id)))?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id_hash: String,
    csrf_token: String,
    session_created_at: Millis,
    last_seen_at: Millis,
    expires_at: Millis,
    #[sqlx(flatten)]
    user: User,
}

pub(crate) async fn session(
    pool: &AnyPool,
    id_hash: &str,
    now: Millis,
) -> Result<Option<(Session, User)>> {
    let row: Option<SessionRow> = sqlx::query_as(
        "SELECT s.id_hash, s.csrf_token, s.created_at AS session_created_at, s.last_seen_at, s.expires_at,
                u.id, u.org_id, u.email, u.role, u.created_at, u.disabled_at
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL",
    )
    .bind(id_hash)
    .bind(now)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|row| {
        let session = Session {
            id_hash: row.id_hash,
            csrf_token: row.csrf_token,
            created_at: row.session_created_at,
            last_seen_at: row.last_seen_at,
            expires_at: row.expires_at,
        };
        (session, row.user)
    }))
}

pub(crate) async fn touch_session(pool: &AnyPool, id_hash: &str, now: Millis) -> Result<()> {
    sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
        .bind(now)
        .bind(id_hash)
        .execute(pool)
        .await?;
    Ok(())
}

pub(crate) async fn delete_session(pool: &AnyPool, id_hash: &str) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(id_hash)
        .execute(pool)
        .await?;
    Ok(())
}

pub(crate) async fn add_known_device(
    pool: &AnyPool,
    user_id: &str,
    id_hash: &str,
    now: Millis,
) -> Result<()> {
    sqlx::query("INSERT INTO known_devices (id_hash, user_id, created_at) VALUES ($1, $2, $3)")
        .bind(id_hash)
        .bind(user_id)
        .bind(now)
        .execute(pool)
        .await
        .map_err(|e| map_insert_error(e, || "device".into(), ("user", user_id)))?;
    Ok(())
}

pub(crate) async fn known_device_user(pool: &AnyPool, id_hash: &str) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT user_id FROM known_devices WHERE id_hash = $1")
            .bind(id_hash)
            .fetch_optional(pool)
            .await?,
    )
}

pub(crate) async fn record_audit(
    pool: &AnyPool,
    org_id: &str,
    actor: &str,
    action: &str,
    target: &str,
    now: Millis,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (org_id, actor, action, target, at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(org_id)
    .bind(actor)
    .bind(action)
    .bind(target)
    .bind(now)
    .execute(pool)
    .await
    .map_err(|e| map_insert_error(e, || "audit entry".into(), ("organisation", org_id)))?;
    Ok(())
}

pub(crate) async fn list_audit(
    pool: &AnyPool,
    org_id: &str,
    limit: u32,
) -> Result<Vec<AuditEntry>> {
    Ok(sqlx::query_as(
        "SELECT id, org_id, actor, action, target, at FROM audit_log
         WHERE org_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(org_id)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?)
}

pub(crate) async fn set_user_role(
    pool: &AnyPool,
    dialect: Dialect,
    org_id: &str,
    user_id: &str,
    role: &str,
    disabled_at: Option<Millis>,
) -> Result<()> {
    let mut tx = pool.begin_with(dialect.begin()).await?;
    let changed =
        sqlx::query("UPDATE users SET role = $1, disabled_at = $2 WHERE id = $3 AND org_id = $4")
            .bind(role)
            .bind(disabled_at)
            .bind(user_id)
            .bind(org_id)
            .execute(&mut *tx)
            .await?;
    if changed.rows_affected() == 0 {
        return Err(Error::NotFound {
            kind: "user",
            id: user_id.to_owned(),
        });
    }
    if disabled_at.is_some() {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn create_invitation(pool: &AnyPool, invitation: &Invitation) -> Result<()> {
    sqlx::query(
        "INSERT INTO invitations (id_hash, org_id, email, role, invited_by, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&invitation.id_hash)
    .bind(&invitation.org_id)
    .bind(&invitation.email)
    .bind(&invitation.role)
    .bind(&invitation.invited_by)
    .bind(invitation.expires_at)
    .execute(pool)
    .await
    .map_err(|e| {
        map_insert_error(
            e,
            || "invitation".into(),
            ("organisation", &invitation.org_id),
        )
    })?;
    Ok(())
}

pub(crate) async fn invitation(
    pool: &AnyPool,
    id_hash: &str,
    now: Millis,
) -> Result<Option<Invitation>> {
    Ok(sqlx::query_as(
        "SELECT id_hash, org_id, email, role, invited_by, expires_at FROM invitations
         WHERE id_hash = $1 AND expires_at > $2",
    )
    .bind(id_hash)
    .bind(now)
    .fetch_optional(pool)
    .await?)
}

pub(crate) async fn accept_invitation(
    pool: &AnyPool,
    dialect: Dialect,
    id_hash: &str,
    user: NewUser<'_>,
    now: Millis,
) -> Result<User> {
    let mut tx = pool.begin_with(dialect.begin()).await?;
    let taken = sqlx::query("DELETE FROM invitations WHERE id_hash = $1 AND expires_at > $2")
        .bind(id_hash)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    if taken.rows_affected() == 0 {
        return Err(Error::NotFound {
            kind: "invitation",
            id: "(hidden)".into(),
        });
    }
    let user = insert_user(&mut tx, &user, now).await?;
    tx.commit().await?;
    Ok(user)
}
