//! `vigie admin …`: the operator's provisioning commands, on the database directly.
//! Text output is `NAME=value` lines and tables; `--json` prints JSON for scripts.

use anyhow::Context;
use secrecy::ExposeSecret;
use serde::Serialize;
use serde_json::json;
use vigie_auth::clock::SystemClock;
use vigie_auth::provision;
use vigie_pipeline::layout::NewAsset;
use vigie_proto::time::Timestamp;
use vigie_store::{DatabaseUrl, ProjectKey};

use crate::cli::{
    AdminArgs, AdminCommand, AppCommand, AssetCommand, AssetProject, KeysCommand, OrgCommand,
    ProjectCommand, UserCommand,
};

pub(crate) async fn admin(args: AdminArgs, database_url: &DatabaseUrl) -> anyhow::Result<()> {
    let store = vigie_store::open(database_url)
        .await
        .with_context(|| format!("opening {database_url}"))?;
    let store = &*store;
    let clock = &SystemClock;
    let out = Output { json: args.json };
    match args.command {
        AdminCommand::Org(OrgCommand::Create { name }) => {
            let org = provision::create_organisation(store, clock, &name).await?;
            out.record(
                &json!({"organisation_id": org.id, "name": org.name}),
                &[("ORGANISATION_ID", &org.id)],
            );
        }
        AdminCommand::Org(OrgCommand::List) => {
            let orgs = store.list_organisations().await?;
            out.table(&orgs, &["ORGANISATION_ID", "NAME", "CREATED"], |o| {
                vec![
                    o.id.clone(),
                    o.name.clone(),
                    Timestamp::from_millis(o.created_at).to_string(),
                ]
            });
        }
        AdminCommand::Project(ProjectCommand::Create { org, code }) => {
            let project = provision::create_project(store, clock, &org, &code).await?;
            out.record(
                &json!({"organisation_id": project.org_id, "ml_project": project.code}),
                &[("ML_PROJECT", &project.code)],
            );
        }
        AdminCommand::Project(ProjectCommand::List { org }) => {
            let projects = store.list_projects(org.as_deref()).await?;
            out.table(
                &projects,
                &["ORGANISATION_ID", "ML_PROJECT", "CREATED"],
                |p| {
                    vec![
                        p.org_id.clone(),
                        p.code.clone(),
                        Timestamp::from_millis(p.created_at).to_string(),
                    ]
                },
            );
        }
        AdminCommand::App(AppCommand::Create { org, name, scope }) => {
            let (app, secret) =
                provision::create_application(store, clock, &org, &name, &scope).await?;
            let secret = secret.expose_secret();
            out.record(
                &json!({"application_id": app.id, "application_secret": secret, "organisation_id": app.org_id,
                        "name": app.name, "scope": app.scope}),
                &[("APPLICATION_ID", &app.id), ("APPLICATION_SECRET", secret)],
            );
            eprintln!("Store the secret now: it is kept only as a hash and cannot be shown again.");
        }
        AdminCommand::App(AppCommand::List { org }) => {
            let apps = store.list_applications(org.as_deref()).await?;
            out.table(
                &apps,
                &[
                    "APPLICATION_ID",
                    "ORGANISATION_ID",
                    "NAME",
                    "SCOPE",
                    "STATUS",
                ],
                |a| {
                    vec![
                        a.id.clone(),
                        a.org_id.clone(),
                        a.name.clone(),
                        a.scope.clone(),
                        a.disabled_at.map_or("enabled".into(), |at| {
                            format!("disabled {}", Timestamp::from_millis(at))
                        }),
                    ]
                },
            );
        }
        AdminCommand::App(AppCommand::RotateSecret {
            app_id,
            grace_seconds,
        }) => {
            let secret = provision::rotate_secret(store, clock, &app_id, grace_seconds).await?;
            let secret = secret.expose_secret();
            out.record(
                &json!({"application_id": app_id, "application_secret": secret, "previous_secret_valid_seconds": grace_seconds}),
                &[("APPLICATION_ID", &app_id), ("APPLICATION_SECRET", secret)],
            );
            eprintln!(
                "The previous secret keeps working for {grace_seconds} s. Store the new one now: it cannot be shown again."
            );
        }
        AdminCommand::App(AppCommand::Disable { app_id }) => {
            store
                .disable_application(&app_id, vigie_auth::clock::Clock::now_ms(clock))
                .await?;
            out.record(
                &json!({"application_id": app_id, "disabled": true}),
                &[("DISABLED", &app_id)],
            );
        }
        AdminCommand::Keys(KeysCommand::Rotate) => {
            let kid = provision::rotate_signing_key(store, clock).await?;
            out.record(&json!({"kid": kid}), &[("KID", &kid)]);
        }
        AdminCommand::Keys(KeysCommand::List) => {
            let keys = store.list_signing_keys().await?;
            #[derive(Serialize)]
            struct KeyView {
                kid: String,
                algorithm: String,
                created_at: String,
                retired_at: Option<String>,
            }
            let views: Vec<KeyView> = keys
                .into_iter()
                .map(|k| KeyView {
                    kid: k.kid,
                    algorithm: k.algorithm,
                    created_at: Timestamp::from_millis(k.created_at).to_string(),
                    retired_at: k.retired_at.map(|t| Timestamp::from_millis(t).to_string()),
                })
                .collect();
            out.table(&views, &["KID", "ALGORITHM", "CREATED", "RETIRED"], |k| {
                vec![
                    k.kid.clone(),
                    k.algorithm.clone(),
                    k.created_at.clone(),
                    k.retired_at.clone().unwrap_or_default(),
                ]
            });
        }
        AdminCommand::Asset(command) => asset(store, &out, command).await?,
        AdminCommand::User(UserCommand::Create {
            org,
            email,
            role,
            password_stdin: _,
        }) => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("reading the password from standard input")?;
            let password = secrecy::SecretString::from(line.trim_end_matches(['\r', '\n']));
            let user =
                vigie_auth::people::create_user(store, clock, &org, &email, &role, &password)
                    .await?;
            out.record(
                &json!({"user_id": user.id, "organisation_id": user.org_id, "email": user.email, "role": user.role}),
                &[("USER_ID", &user.id), ("EMAIL", &user.email)],
            );
        }
        AdminCommand::User(UserCommand::List { org }) => {
            let users = store.list_users(&org).await?;
            out.table(&users, &["USER_ID", "EMAIL", "ROLE", "STATUS"], |u| {
                vec![
                    u.id.clone(),
                    u.email.clone(),
                    u.role.clone(),
                    u.disabled_at.map_or("enabled".into(), |at| {
                        format!("disabled {}", Timestamp::from_millis(at))
                    }),
                ]
            });
        }
    }
    Ok(())
}

/// `vigie admin asset …`
async fn asset(
    store: &dyn vigie_store::Store,
    out: &Output,
    command: AssetCommand,
) -> anyhow::Result<()> {
    let key = |p: AssetProject| ProjectKey {
        org_id: p.org,
        code: p.project,
    };
    let now = vigie_auth::clock::Clock::now_ms(&SystemClock);
    match command {
        AssetCommand::Create {
            project,
            name,
            series,
            sampling_seconds,
        } => {
            let asset = NewAsset {
                name,
                series: series
                    .iter()
                    .map(|s| match s.split_once(':') {
                        Some((sensor, value_name)) => (sensor.to_owned(), value_name.to_owned()),
                        None => (
                            s.clone(),
                            vigie_proto::readings::DEFAULT_VALUE_NAME.to_owned(),
                        ),
                    })
                    .collect(),
                sampling_seconds,
            };
            let max_series = vigie_pipeline::DetectionConfig::default().asset_max_sensors;
            asset.create(store, &key(project), max_series, now).await?;
            out.record(
                &json!({"asset": asset.name, "series": asset.series.len()}),
                &[("ASSET", &asset.name)],
            );
        }
        AssetCommand::List { project } => {
            let layouts = store.asset_layouts(&key(project), now).await?;
            #[derive(Serialize)]
            struct AssetView {
                name: String,
                series: Option<Vec<String>>,
                sampling_seconds: Option<f64>,
            }
            let views: Vec<AssetView> = layouts
                .into_iter()
                .map(|layout| AssetView {
                    name: layout.name,
                    series: layout.members.map(|members| {
                        members
                            .into_iter()
                            .map(|(s, v)| format!("{s}:{v}"))
                            .collect()
                    }),
                    sampling_seconds: layout.sampling_us.map(|us| us as f64 / 1e6),
                })
                .collect();
            out.table(&views, &["ASSET", "SAMPLING", "SERIES"], |a| {
                vec![
                    a.name.clone(),
                    a.sampling_seconds
                        .map_or("learnt".into(), |seconds| format!("{seconds} s")),
                    a.series
                        .as_ref()
                        .map_or("every other series".into(), |series| series.join(" ")),
                ]
            });
        }
        AssetCommand::Relearn {
            project,
            name,
            from,
        } => {
            let from = match from {
                Some(date) => {
                    Timestamp::parse(&date).map_err(|error| anyhow::anyhow!("--from {error}"))?
                }
                None => Timestamp::from_millis(now),
            };
            store
                .relearn_asset(&key(project), &name, from.as_micros())
                .await?;
            out.record(
                &json!({"asset": name, "relearn_from": from.to_string()}),
                &[("ASSET", &name), ("RELEARN_FROM", &from.to_string())],
            );
        }
    }
    Ok(())
}

struct Output {
    json: bool,
}

impl Output {
    /// One created or changed thing: JSON, or `NAME=value` lines a shell can `eval`.
    fn record(&self, json: &serde_json::Value, lines: &[(&str, &str)]) {
        if self.json {
            println!("{json}");
        } else {
            for (name, value) in lines {
                println!("{name}={value}");
            }
        }
    }

    /// A list: a JSON array, or an aligned table.
    fn table<T: Serialize>(&self, rows: &[T], headers: &[&str], cells: impl Fn(&T) -> Vec<String>) {
        if self.json {
            println!("{}", serde_json::to_string(rows).unwrap_or_default());
            return;
        }
        let rows: Vec<Vec<String>> = rows.iter().map(cells).collect();
        let widths: Vec<usize> = headers
            .iter()
            .enumerate()
            .map(|(i, h)| {
                rows.iter()
                    .map(|r| r[i].chars().count())
                    .chain([h.len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let print = |cells: Vec<&str>| {
            let line: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            println!("{}", line.join("  ").trim_end());
        };
        print(headers.to_vec());
        for row in &rows {
            print(row.iter().map(String::as_str).collect());
        }
    }
}
