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
