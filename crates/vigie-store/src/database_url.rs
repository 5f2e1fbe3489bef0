//! A database URL that never shows its password in logs or `Debug` output.

use std::fmt;

/// A `sqlite:` or `postgres:` URL whose password is hidden when displayed.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// Wraps a URL.
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The full URL, password included, for connecting.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The scheme before `:`, lower-cased.
    pub fn scheme(&self) -> &str {
        self.0.split(':').next().unwrap_or_default()
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        let Some((scheme, rest)) = self.0.split_once("://") else {
            return self.0.clone();
        };
        let Some((authority, path)) = rest.split_once('@') else {
            return self.0.clone();
        };
        match authority.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{path}"),
            None => self.0.clone(),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatabaseUrl")
            .field(&self.redacted())
            .finish()
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_hidden() {
        let url = DatabaseUrl::new("postgres://vigie:hunter2@db:5432/vigie");
        assert_eq!(url.redacted(), "postgres://vigie:***@db:5432/vigie");
        assert!(!format!("{url:?}").contains("hunter2"));
        assert_eq!(url.scheme(), "postgres");
    }

    #[test]
    fn url_without_password_is_unchanged() {
        let url = DatabaseUrl::new("sqlite://./vigie-data/vigie.db");
        assert_eq!(url.redacted(), "sqlite://./vigie-data/vigie.db");
    }
}
