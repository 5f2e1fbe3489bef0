//! Refresh-token families and access-token revocations: atomic operations only. Whether
//! a refresh token may be used (expired, revoked, another client's, a wider scope) is
//! decided by `vigie-auth` from [`RefreshTokenInfo`]; the store only makes the rotation
//! itself atomic, so that concurrent rotations (even from several servers on
//! PostgreSQL) serialise on the family's row.

use std::collections::HashSet;

use sqlx::{AnyConnection, AnyPool, FromRow, Row};

use crate::bulk::bulk_query;
use crate::dialect::Dialect;
use crate::{Millis, NewRefreshFamily, RefreshRotation, RefreshTokenInfo, Result, RotationOutcome};

/// Families started per pair of statements.
const FAMILIES_PER_STATEMENT: usize = 500;

/// Starts the families of enabled applications, two statements per 500 families;
/// returns the ids of the families started.
pub(crate) async fn create_families(
    conn: &mut AnyConnection,
    dialect: Dialect,
    families: &[&NewRefreshFamily],
) -> Result<HashSet<String>> {
    let mut created = HashSet::with_capacity(families.len());
    for chunk in families.chunks(FAMILIES_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO refresh_families (id, app_id, scope, generation, rotated_at, created_at)
             SELECT v.column1, v.column2, v.column3, 0, v.column4, v.column4
             FROM (VALUES {}) AS v JOIN applications a ON a.id = v.column2
             WHERE a.disabled_at IS NULL
             RETURNING id",
            dialect.values(chunk.len(), 4)
        );
        let mut query = bulk_query(&sql, chunk.len());
        for family in chunk {
            query = query
                .bind(&family.family_id)
                .bind(&family.app_id)
                .bind(&family.scope)
                .bind(family.now);
        }
        for row in query.fetch_all(&mut *conn).await? {
            created.insert(row.try_get::<String, _>("id")?);
        }
        let started: Vec<&&NewRefreshFamily> = chunk
            .iter()
            .filter(|f| created.contains(&f.family_id))
            .collect();
        if started.is_empty() {
            continue;
        }
        let sql = format!(
            "INSERT INTO refresh_tokens (hash, family_id, generation, issued_at, expires_at) VALUES {}",
            dialect.values(started.len(), 5)
        );
        let mut query = bulk_query(&sql, started.len());
        for family in started {
            query = query
                .bind(&family.token_hash)
                .bind(&family.family_id)
                .bind(0i64)
                .bind(family.now)
                .bind(family.expires_at);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(created)
}

/// Advances a family by one generation if the presented token is its current one; a
/// token of the immediately previous generation, within the grace window, gets a
/// sibling of the current one; anything else is reuse and revokes the family. The
/// decision and its effect are one statement.
pub(crate) async fn rotate(
    conn: &mut AnyConnection,
    r: &RefreshRotation,
) -> Result<RotationOutcome> {
    let Some(updated) = sqlx::query(
        "UPDATE refresh_families SET
            generation = CASE WHEN generation = $2 THEN generation + 1 ELSE generation END,
            rotated_at = CASE WHEN generation = $2 THEN $3 ELSE rotated_at END,
            revoked_at = CASE WHEN generation = $2 OR (generation = $2 + 1 AND rotated_at + $4 > $3)
                              THEN NULL ELSE $3 END,
            revoked_reason = CASE WHEN generation = $2 OR (generation = $2 + 1 AND rotated_at + $4 > $3)
                              THEN NULL ELSE 'refresh token reuse' END
         WHERE id = $1 AND revoked_at IS NULL
         RETURNING generation, revoked_at",
    )
    .bind(&r.family_id)
    .bind(r.presented_generation)
    .bind(r.now)
    .bind(r.grace_ms)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(RotationOutcome::Revoked);
    };
    let new_generation: i64 = updated.try_get("generation")?;
    let revoked: Option<i64> = updated.try_get("revoked_at")?;
    if revoked.is_some() {
        tracing::warn!(family = %r.family_id, "refresh token reuse detected; family revoked");
        return Ok(RotationOutcome::ReuseDetected);
    }
    sqlx::query(
        "INSERT INTO refresh_tokens (hash, family_id, generation, issued_at, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&r.new_hash)
    .bind(&r.family_id)
    .bind(new_generation)
    .bind(r.now)
    .bind(r.new_expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(RotationOutcome::Rotated)
}

/// A refresh token as stored, with its family and application.
#[derive(FromRow)]
struct TokenRow {
    family_id: String,
    token_generation: i64,
    family_generation: i64,
    app_id: String,
    scope: String,
    issued_at: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
    disabled_at: Option<i64>,
}

pub(crate) async fn find_refresh_token(
    pool: &AnyPool,
    hash: &[u8],
) -> Result<Option<RefreshTokenInfo>> {
    let row: Option<TokenRow> = sqlx::query_as(
        "SELECT t.family_id, t.generation AS token_generation, f.generation AS family_generation,
                f.app_id, f.scope, t.issued_at, t.expires_at, f.revoked_at, a.disabled_at
         FROM refresh_tokens t
         JOIN refresh_families f ON f.id = t.family_id
         JOIN applications a ON a.id = f.app_id
         WHERE t.hash = $1",
    )
    .bind(hash)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|row| RefreshTokenInfo {
        family_id: row.family_id,
        generation: row.token_generation,
        current: row.token_generation == row.family_generation,
        app_id: row.app_id,
        scope: row.scope,
        issued_at: row.issued_at,
        expires_at: row.expires_at,
        revoked: row.revoked_at.is_some(),
        application_disabled: row.disabled_at.is_some(),
    }))
}

pub(crate) async fn revoke_refresh_family(
    pool: &AnyPool,
    hash: &[u8],
    app_id: &str,
    now: Millis,
) -> Result<bool> {
    let changed = sqlx::query(
        "UPDATE refresh_families SET revoked_at = $1, revoked_reason = 'revoked by client'
         WHERE id = (SELECT family_id FROM refresh_tokens WHERE hash = $2)
           AND app_id = $3 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(hash)
    .bind(app_id)
    .execute(pool)
    .await?;
    Ok(changed.rows_affected() > 0)
}

pub(crate) async fn revoke_access_token(
    pool: &AnyPool,
    dialect: Dialect,
    jti: &str,
    app_id: &str,
    expires_at: Millis,
) -> Result<()> {
    let mut tx = pool.begin_with(dialect.begin()).await?;
    crate::directory::bump_generation(&mut tx).await?;
    sqlx::query(
        "INSERT INTO revoked_access_tokens (jti, app_id, expires_at) VALUES ($1, $2, $3)
         ON CONFLICT (jti) DO NOTHING",
    )
    .bind(jti)
    .bind(app_id)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn load_revoked_access_tokens(pool: &AnyPool, now: Millis) -> Result<Vec<String>> {
    Ok(
        sqlx::query_scalar("SELECT jti FROM revoked_access_tokens WHERE expires_at > $1")
            .bind(now)
            .fetch_all(pool)
            .await?,
    )
}
