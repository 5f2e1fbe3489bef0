//! What the operator provisions: organisations, ML projects and applications, and the
//! generation number a running server watches to notice the operator's changes.

use sqlx::{AnyConnection, AnyPool, FromRow};

use crate::dialect::Dialect;
use crate::map_insert_error;
use crate::{
    Application, ApplicationCredentials, Error, Millis, MlProject, NewApplication, Organisation,
    Result,
};

/// Marks a change every running server must pick up (applications, keys, revocations).
pub(crate) async fn bump_generation(conn: &mut AnyConnection) -> Result<()> {
    sqlx::query("UPDATE state_generation SET value = value + 1 WHERE id = 1")
        .execute(conn)
        .await?;
    Ok(())
}

pub(crate) async fn generation(pool: &AnyPool) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT value FROM state_generation WHERE id = 1")
            .fetch_one(pool)
            .await?,
    )
}

pub(crate) async fn create_organisation(
    pool: &AnyPool,
    name: &str,
    now: Millis,
) -> Result<Organisation> {
    let org = Organisation {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.to_owned(),
        created_at: now,
    };
    sqlx::query("INSERT INTO organisations (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(&org.id)
        .bind(&org.name)
        .bind(org.created_at)
        .execute(pool)
        .await
        .map_err(|e| {
            map_insert_error(
                e,
                || format!("organisation named {name:?}"),
                ("organisation", ""),
            )
        })?;
    Ok(org)
}

pub(crate) async fn list_organisations(pool: &AnyPool) -> Result<Vec<Organisation>> {
    Ok(
        sqlx::query_as("SELECT id, name, created_at FROM organisations ORDER BY created_at, id")
            .fetch_all(pool)
            .await?,
    )
}

pub(crate) async fn find_organisation_by_name(
    pool: &AnyPool,
    name: &str,
) -> Result<Option<Organisation>> {
    Ok(
        sqlx::query_as("SELECT id, name, created_at FROM organisations WHERE name = $1")
            .bind(name)
            .fetch_optional(pool)
            .await?,
    )
}

pub(crate) async fn create_project(
    pool: &AnyPool,
    org_id: &str,
    code: &str,
    now: Millis,
) -> Result<MlProject> {
    sqlx::query("INSERT INTO ml_projects (org_id, code, created_at) VALUES ($1, $2, $3)")
        .bind(org_id)
        .bind(code)
        .bind(now)
        .execute(pool)
        .await
        .map_err(|e| {
            map_insert_error(e, || format!("project {code:?}"), ("organisation", org_id))
        })?;
    Ok(MlProject {
        org_id: org_id.to_owned(),
        code: code.to_owned(),
        created_at: now,
    })
}

pub(crate) async fn list_projects(pool: &AnyPool, org_id: Option<&str>) -> Result<Vec<MlProject>> {
    Ok(sqlx::query_as(
        "SELECT org_id, code, created_at FROM ml_projects
         WHERE $1 IS NULL OR org_id = $1 ORDER BY org_id, code",
    )
    .bind(org_id)
    .fetch_all(pool)
    .await?)
}

pub(crate) async fn project_exists(pool: &AnyPool, org_id: &str, code: &str) -> Result<bool> {
    Ok(
        sqlx::query("SELECT 1 AS found FROM ml_projects WHERE org_id = $1 AND code = $2")
            .bind(org_id)
            .bind(code)
            .fetch_optional(pool)
            .await?
            .is_some(),
    )
}

pub(crate) async fn create_application(
    pool: &AnyPool,
    dialect: Dialect,
    new: NewApplication<'_>,
) -> Result<Application> {
    let mut tx = pool.begin_with(dialect.begin()).await?;
    bump_generation(&mut tx).await?;
    sqlx::query(
        "INSERT INTO applications (id, org_id, name, scope, secret_hash, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(new.id)
    .bind(new.org_id)
    .bind(new.name)
    .bind(new.scope)
    .bind(new.secret_hash)
    .bind(new.now)
    .execute(&mut *tx)
    .await
    .map_err(|e| {
        map_insert_error(
            e,
            || format!("application {}", new.id),
            ("organisation", new.org_id),
        )
    })?;
    tx.commit().await?;
    Ok(Application {
        id: new.id.to_owned(),
        org_id: new.org_id.to_owned(),
        name: new.name.to_owned(),
        scope: new.scope.to_owned(),
        created_at: new.now,
        disabled_at: None,
    })
}

pub(crate) async fn list_applications(
    pool: &AnyPool,
    org_id: Option<&str>,
) -> Result<Vec<Application>> {
    Ok(sqlx::query_as(
        "SELECT id, org_id, name, scope, created_at, disabled_at FROM applications
         WHERE $1 IS NULL OR org_id = $1 ORDER BY created_at, id",
    )
    .bind(org_id)
    .fetch_all(pool)
    .await?)
}

pub(crate) async fn rotate_application_secret(
    pool: &AnyPool,
    dialect: Dialect,
    app_id: &str,
    new_secret_hash: &[u8],
    previous_valid_until: Millis,
) -> Result<()> {
    let mut tx = pool.begin_with(dialect.begin()).await?;
    bump_generation(&mut tx).await?;
    let changed = sqlx::query(
        "UPDATE applications SET previous_secret_hash = secret_hash,
            previous_secret_expires_at = $1, secret_hash = $2
         WHERE id = $3 AND disabled_at IS NULL",
    )
    .bind(previous_valid_until)
    .bind(new_secret_hash)
    .bind(app_id)
    .execute(&mut *tx)
    .await?;
    if changed.rows_affected() == 0 {
        return Err(Error::NotFound {
            kind: "enabled application",
            id: app_id.to_owned(),
        });
    }
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn disable_application(
    pool: &AnyPool,
    dialect: Dialect,
    app_id: &str,
    now: Millis,
) -> Result<()> {
    let mut tx = pool.begin_with(dialect.begin()).await?;
    bump_generation(&mut tx).await?;
    let changed = sqlx::query(
        "UPDATE applications SET disabled_at = COALESCE(disabled_at, $1) WHERE id = $2",
    )
    .bind(now)
    .bind(app_id)
    .execute(&mut *tx)
    .await?;
    if changed.rows_affected() == 0 {
        return Err(Error::NotFound {
            kind: "application",
            id: app_id.to_owned(),
        });
    }
    sqlx::query(
        "UPDATE refresh_families SET revoked_at = $1, revoked_reason = 'application disabled'
         WHERE app_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(app_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// An application's credentials as stored.
#[derive(FromRow)]
struct CredentialsRow {
    id: String,
    org_id: String,
    scope: String,
    secret_hash: Vec<u8>,
    previous_secret_hash: Option<Vec<u8>>,
    previous_secret_expires_at: Option<i64>,
    disabled_at: Option<i64>,
}

pub(crate) async fn load_credentials(pool: &AnyPool) -> Result<Vec<ApplicationCredentials>> {
    let rows: Vec<CredentialsRow> = sqlx::query_as(
        "SELECT id, org_id, scope, secret_hash, previous_secret_hash, previous_secret_expires_at, disabled_at
         FROM applications",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| ApplicationCredentials {
            id: row.id,
            org_id: row.org_id,
            scope: row.scope,
            secret_hash: row.secret_hash,
            previous_secret_hash: row.previous_secret_hash,
            previous_secret_expires_at: row.previous_secret_expires_at,
            disabled: row.disabled_at.is_some(),
        })
        .collect())
}
