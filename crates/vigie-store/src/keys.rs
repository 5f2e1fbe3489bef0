//! Token-signing keys: at most one active, the retired ones kept for verification.

use sqlx::{AnyConnection, AnyPool};

use crate::dialect::Dialect;
use crate::directory::bump_generation;
use crate::{Millis, NewSigningKey, Result, SigningKeyRecord};

async fn insert_key(conn: &mut AnyConnection, key: &NewSigningKey, now: Millis) -> Result<()> {
    sqlx::query(
        "INSERT INTO signing_keys (kid, algorithm, private_key, public_key, created_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&key.kid)
    .bind(&key.algorithm)
    .bind(&key.private_key)
    .bind(&key.public_key)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) async fn rotate_signing_key(
    pool: &AnyPool,
    dialect: Dialect,
    key: NewSigningKey,
    now: Millis,
) -> Result<()> {
    let mut tx = pool.begin_with(dialect.begin()).await?;
    bump_generation(&mut tx).await?;
    sqlx::query("UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL")
        .bind(now)
        .execute(&mut *tx)
        .await?;
    insert_key(&mut tx, &key, now).await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn ensure_signing_key(
    pool: &AnyPool,
    dialect: Dialect,
    key: NewSigningKey,
    now: Millis,
) -> Result<bool> {
    let mut tx = pool.begin_with(dialect.begin()).await?;
    bump_generation(&mut tx).await?;
    let active: i64 =
        sqlx::query_scalar("SELECT COUNT(*) AS n FROM signing_keys WHERE retired_at IS NULL")
            .fetch_one(&mut *tx)
            .await?;
    if active > 0 {
        return Ok(false);
    }
    insert_key(&mut tx, &key, now).await?;
    tx.commit().await?;
    Ok(true)
}

pub(crate) async fn list_signing_keys(pool: &AnyPool) -> Result<Vec<SigningKeyRecord>> {
    Ok(sqlx::query_as(
        "SELECT kid, algorithm, private_key, public_key, created_at, retired_at
         FROM signing_keys ORDER BY created_at DESC, kid",
    )
    .fetch_all(pool)
    .await?)
}
