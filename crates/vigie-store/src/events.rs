//! What people do with anomaly events: each event's current status and the history of
//! the actions taken on it, written together. The rules (which action leads where) live
//! with the console (`vigie_console::lifecycle`); the store keeps what it is given.

use sqlx::AnyPool;

use crate::dialect::Dialect;
use crate::map_insert_error;
use crate::{Millis, ProjectKey, Result};

/// An event's current status.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EventStatus {
    /// `open`, `acknowledged` or `resolved`.
    pub status: String,
    /// Who is on it.
    pub assignee: Option<String>,
    /// `anomaly`, `not_anomaly` or `neutral`.
    pub verdict: Option<String>,
    /// The fault code given with the verdict.
    pub fault_code: Option<String>,
    /// The note given with the verdict.
    pub note: Option<String>,
    /// When it last changed.
    pub updated_at: Millis,
}

/// One action taken on an event.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EventHistoryEntry {
    /// Who (a user's e-mail address or an application id).
    pub actor: String,
    /// `acknowledge`, `resolve`, `reopen`, `comment`, `verdict` or `assign`.
    pub action: String,
    /// What they wrote.
    pub comment: Option<String>,
    /// The verdict given.
    pub verdict: Option<String>,
    /// The fault code given.
    pub fault_code: Option<String>,
    /// The assignee given.
    pub assignee: Option<String>,
    /// When.
    pub at: Millis,
}

pub(crate) async fn event_status(
    pool: &AnyPool,
    project: &ProjectKey,
    event_id: &str,
) -> Result<Option<EventStatus>> {
    Ok(sqlx::query_as(
        "SELECT status, assignee, verdict, fault_code, note, updated_at FROM event_status
         WHERE org_id = $1 AND project_code = $2 AND event_id = $3",
    )
    .bind(&project.org_id)
    .bind(&project.code)
    .bind(event_id)
    .fetch_optional(pool)
    .await?)
}

pub(crate) async fn event_history(
    pool: &AnyPool,
    project: &ProjectKey,
    event_id: &str,
) -> Result<Vec<EventHistoryEntry>> {
    Ok(sqlx::query_as(
        "SELECT actor, action, comment, verdict, fault_code, assignee, at FROM event_history
         WHERE org_id = $1 AND project_code = $2 AND event_id = $3 ORDER BY id",
    )
    .bind(&project.org_id)
    .bind(&project.code)
    .bind(event_id)
    .fetch_all(pool)
    .await?)
}

pub(crate) async fn record_event_action(
    pool: &AnyPool,
    dialect: Dialect,
    project: &ProjectKey,
    event_id: &str,
    status: &EventStatus,
    entry: &EventHistoryEntry,
) -> Result<()> {
    let mut tx = pool.begin_with(dialect.begin()).await?;
    sqlx::query(
        "INSERT INTO event_status (org_id, project_code, event_id, status, assignee, verdict, fault_code, note, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (org_id, project_code, event_id) DO UPDATE SET
           status = excluded.status, assignee = excluded.assignee, verdict = excluded.verdict,
           fault_code = excluded.fault_code, note = excluded.note, updated_at = excluded.updated_at",
    )
    .bind(&project.org_id)
    .bind(&project.code)
    .bind(event_id)
    .bind(&status.status)
    .bind(&status.assignee)
    .bind(&status.verdict)
    .bind(&status.fault_code)
    .bind(&status.note)
    .bind(status.updated_at)
    .execute(&mut *tx)
    .await
    .map_err(|e| map_insert_error(e, || format!("event {event_id}"), ("project", &project.code)))?;
    sqlx::query(
        "INSERT INTO event_history (org_id, project_code, event_id, actor, action, comment, verdict, fault_code, assignee, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&project.org_id)
    .bind(&project.code)
    .bind(event_id)
    .bind(&entry.actor)
    .bind(&entry.action)
    .bind(&entry.comment)
    .bind(&entry.verdict)
    .bind(&entry.fault_code)
    .bind(&entry.assignee)
    .bind(entry.at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn series_event_exists(
    pool: &AnyPool,
    project: &ProjectKey,
    series_id: i64,
    start_us: i64,
) -> Result<bool> {
    Ok(sqlx::query(
        "SELECT 1 AS found FROM anomalies a JOIN series s ON s.id = a.series_id
         WHERE s.org_id = $1 AND s.project_code = $2 AND a.series_id = $3 AND a.start_us = $4",
    )
    .bind(&project.org_id)
    .bind(&project.code)
    .bind(series_id)
    .bind(start_us)
    .fetch_optional(pool)
    .await?
    .is_some())
}

pub(crate) async fn asset_event_exists(
    pool: &AnyPool,
    project: &ProjectKey,
    asset_id: i64,
    start_us: i64,
) -> Result<bool> {
    Ok(sqlx::query(
        "SELECT 1 AS found FROM asset_events e JOIN assets a ON a.id = e.asset_id
         WHERE a.org_id = $1 AND a.project_code = $2 AND e.asset_id = $3 AND e.start_us = $4",
    )
    .bind(&project.org_id)
    .bind(&project.code)
    .bind(asset_id)
    .bind(start_us)
    .fetch_optional(pool)
    .await?
    .is_some())
}
