//! OAuth2 scopes (RFC 6749 §3.3), checked in one place: a scope is a set of tokens of
//! printable ASCII without `"` or `\`, written space separated, each once.

use std::fmt;

/// A valid scope: its tokens, each once, in the order first given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scope(Vec<String>);

/// Why a scope was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the scope contains characters RFC 6749 §3.3 does not allow")]
pub struct ScopeError;

impl Scope {
    /// Parses a space-separated scope; repeated tokens count once, extra spaces none.
    ///
    /// # Errors
    /// [`ScopeError`] for a character RFC 6749 does not allow in a scope token.
    pub fn parse(text: &str) -> Result<Self, ScopeError> {
        let valid = |c: char| {
            c == '\x21' || ('\x23'..='\x5b').contains(&c) || ('\x5d'..='\x7e').contains(&c)
        };
        let mut tokens: Vec<String> = Vec::new();
        for token in text.split(' ').filter(|t| !t.is_empty()) {
            if !token.chars().all(valid) {
                return Err(ScopeError);
            }
            if !tokens.iter().any(|t| t == token) {
                tokens.push(token.to_owned());
            }
        }
        Ok(Self(tokens))
    }

    /// Whether it holds no token.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `token` is one of its tokens.
    pub fn contains(&self, token: &str) -> bool {
        self.0.iter().any(|t| t == token)
    }

    /// Whether every token is also one of `granted`'s.
    pub fn is_within(&self, granted: &Scope) -> bool {
        self.0.iter().all(|token| granted.contains(token))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_is_a_set_of_valid_tokens() {
        assert_eq!(Scope::parse("  data  data ").unwrap().to_string(), "data");
        assert_eq!(
            Scope::parse("admin data admin").unwrap().to_string(),
            "admin data"
        );
        assert!(Scope::parse("").unwrap().is_empty());
        for bad in ["da\"ta", "dat\\a", "é", "tab\there"] {
            assert_eq!(Scope::parse(bad), Err(ScopeError), "{bad:?}");
        }
        let granted = Scope::parse("data admin").unwrap();
        assert!(Scope::parse("admin").unwrap().is_within(&granted));
        assert!(!Scope::parse("data write").unwrap().is_within(&granted));
        assert!(Scope::default().is_within(&granted));
    }
}
