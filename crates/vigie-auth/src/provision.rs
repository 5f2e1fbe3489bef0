//! What the operator does: organisations, ML projects, applications, secret rotation
//! and signing-key rotation. Used by `vigie admin …` and `vigie serve --demo`.

use secrecy::SecretString;
use vigie_store::{Application, MlProject, NewApplication, Organisation, Store};

use crate::clock::Clock;
use crate::jwt::generate_signing_key;
use crate::secret::{generate_client_secret, hash_secret};
use crate::{Error, Result};

/// The scope granted to new applications unless another is given.
pub const DEFAULT_SCOPE: &str = "data";

/// How long a rotated secret keeps working, so running integrations can be updated.
pub const DEFAULT_SECRET_ROTATION_GRACE_SECONDS: u64 = 86_400;

/// Checks an organisation or application name: 1–200 characters, no control characters.
///
/// # Errors
/// [`Error::InvalidInput`] saying what is wrong.
pub fn validate_name(name: &str) -> Result<()> {
    let length = name.chars().count();
    if name.trim().is_empty() || length > 200 {
        return Err(Error::InvalidInput(format!(
            "a name must have 1 to 200 characters, not {length}"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::InvalidInput(
            "a name must not contain control characters".into(),
        ));
    }
    Ok(())
}

/// Checks a new `ML_PROJECT` code: 1–64 lower-case ASCII letters or digits
/// (`[a-z0-9]{1,64}`), which every client accepts (the product's Node-RED connector
/// refuses anything else). Codes stored under an earlier, wider rule keep working: only
/// creation checks this.
///
/// # Errors
/// [`Error::InvalidInput`] saying what is wrong.
pub fn validate_project_code(code: &str) -> Result<()> {
    let valid = !code.is_empty()
        && code.len() <= 64
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if valid {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "project code {code:?} must be 1 to 64 lower-case ASCII letters or digits (a-z, 0-9), \
             for example {:?}",
            suggested_project_code(code)
        )))
    }
}

/// A valid code close to `code`: lower-cased, other characters left out.
fn suggested_project_code(code: &str) -> String {
    let suggestion: String = code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .take(64)
        .collect();
    if suggestion.is_empty() {
        "line1".into()
    } else {
        suggestion
    }
}

/// Creates an organisation.
///
/// # Errors
/// Invalid name; the name is taken; storage errors.
pub async fn create_organisation(
    store: &dyn Store,
    clock: &dyn Clock,
    name: &str,
) -> Result<Organisation> {
    validate_name(name)?;
    Ok(store.create_organisation(name, clock.now_ms()).await?)
}

/// Creates an ML project.
///
/// # Errors
/// Invalid code; unknown organisation; code taken; storage errors.
pub async fn create_project(
    store: &dyn Store,
    clock: &dyn Clock,
    org_id: &str,
    code: &str,
) -> Result<MlProject> {
    validate_project_code(code)?;
    Ok(store.create_project(org_id, code, clock.now_ms()).await?)
}

/// The scopes an organisation's admin (in the console, or an application with scope
/// `admin` through the API) may grant an application: `data` (push and read), `events`
/// (act on events, write annotations), `admin` (project settings, applications).
pub const GRANTABLE_SCOPES: [&str; 3] = ["data", "events", "admin"];

/// Longest grace an admin may give a rotated secret: a week.
pub const MAX_SECRET_ROTATION_GRACE_SECONDS: u64 = 7 * 86_400;

/// A scope an admin may grant: one or more of [`GRANTABLE_SCOPES`], space separated,
/// given back in that order, each once.
///
/// # Errors
/// [`Error::InvalidInput`] naming the scopes that may be granted.
pub fn grantable_scope(scope: &str) -> Result<String> {
    let asked: Vec<&str> = scope.split(' ').filter(|t| !t.is_empty()).collect();
    if asked.is_empty() || asked.iter().any(|t| !GRANTABLE_SCOPES.contains(t)) {
        return Err(Error::InvalidInput(format!(
            "scope must be one or more of {}, space separated",
            GRANTABLE_SCOPES.join(", ")
        )));
    }
    Ok(GRANTABLE_SCOPES
        .iter()
        .filter(|t| asked.contains(t))
        .copied()
        .collect::<Vec<_>>()
        .join(" "))
}

/// The application `app_id` if it belongs to organisation `org_id`; `None` for any
/// other id, whether it exists elsewhere or not.
///
/// # Errors
/// Storage errors.
pub async fn org_application(
    store: &dyn Store,
    org_id: &str,
    app_id: &str,
) -> Result<Option<Application>> {
    let apps = store.list_applications(Some(org_id)).await?;
    Ok(apps.into_iter().find(|app| app.id == app_id))
}

/// Creates an application and returns it with its secret, which is stored only as a hash.
///
/// # Errors
/// Invalid name or scope; unknown organisation; storage errors.
pub async fn create_application(
    store: &dyn Store,
    clock: &dyn Clock,
    org_id: &str,
    name: &str,
    scope: &str,
) -> Result<(Application, SecretString)> {
    validate_name(name)?;
    if scope.split(' ').all(str::is_empty)
        || !scope
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-:. ".contains(&b))
    {
        return Err(Error::InvalidInput(format!(
            "scope {scope:?} must be space-separated words"
        )));
    }
    let secret = generate_client_secret();
    let id = uuid::Uuid::new_v4().to_string();
    let hash = hash_secret(secrecy::ExposeSecret::expose_secret(&secret));
    let app = store
        .create_application(NewApplication {
            id: &id,
            org_id,
            name,
            scope,
            secret_hash: &hash,
            now: clock.now_ms(),
        })
        .await?;
    Ok((app, secret))
}

/// Gives an application a new secret; the old one keeps working for `grace_seconds`.
///
/// # Errors
/// Unknown or disabled application; storage errors.
pub async fn rotate_secret(
    store: &dyn Store,
    clock: &dyn Clock,
    app_id: &str,
    grace_seconds: u64,
) -> Result<SecretString> {
    let secret = generate_client_secret();
    let hash = hash_secret(secrecy::ExposeSecret::expose_secret(&secret));
    let now = clock.now_ms();
    let until = now.saturating_add((grace_seconds as i64).saturating_mul(1000));
    store
        .rotate_application_secret(app_id, &hash, until, now)
        .await?;
    Ok(secret)
}

/// Starts signing with a new key; the previous key stays published (and accepted)
/// until every token it signed has expired. Returns the new key id.
///
/// # Errors
/// Storage errors.
pub async fn rotate_signing_key(store: &dyn Store, clock: &dyn Clock) -> Result<String> {
    let key = generate_signing_key();
    let kid = key.kid.clone();
    store.rotate_signing_key(key, clock.now_ms()).await?;
    Ok(kid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_scopes_are_granted_in_a_fixed_order() {
        assert_eq!(grantable_scope("admin  data").unwrap(), "data admin");
        assert_eq!(
            grantable_scope("events data events").unwrap(),
            "data events"
        );
        for refused in ["", "  ", "root", "data superuser", "data\tadmin"] {
            assert!(
                matches!(grantable_scope(refused), Err(Error::InvalidInput(_))),
                "{refused:?}"
            );
        }
    }

    #[test]
    fn project_codes() {
        for ok in ["pressline", "pl1v2", "a", "0", &"x".repeat(64)] {
            assert!(validate_project_code(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "..",
            "press-line",
            "PressLine",
            "pl_1",
            "v1.2",
            "with space",
            "slash/no",
            "é",
            &"x".repeat(65),
        ] {
            assert!(validate_project_code(bad).is_err(), "{bad}");
        }
        let Err(Error::InvalidInput(message)) = validate_project_code("Press-Line_2") else {
            panic!("refused")
        };
        assert!(message.contains("a-z, 0-9"), "{message}");
        assert!(message.contains("\"pressline2\""), "{message}");
    }

    #[test]
    fn names() {
        assert!(validate_name("Acme Ltd").is_ok());
        assert!(validate_name(" ").is_err());
        assert!(validate_name("bad\nname").is_err());
        assert!(validate_name(&"n".repeat(201)).is_err());
    }
}
