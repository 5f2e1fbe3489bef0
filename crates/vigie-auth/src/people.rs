//! People who sign in to the web console: their passwords (argon2id with OWASP's
//! parameters), their roles, and their server-side sessions.
//!
//! A session id is 256 random bits carried by the cookie; the store keeps only its
//! SHA-256 (like refresh tokens, [`crate::secret`]), with a synchronizer token for the
//! session's forms. Signing in always creates a new session id (no fixation), a new
//! password ends the user's other sessions, and a wrong e-mail address costs the same
//! password hash as a wrong password, so timing does not tell whether an account exists.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use secrecy::{ExposeSecret, SecretString};
use vigie_store::{NewUser, Session, Store, User};

use crate::clock::Clock;
use crate::secret::{generate_refresh_token, hash_secret};
use crate::{Error, Result};

/// OWASP's argon2id parameters: 19 MiB of memory, 2 iterations, 1 lane.
pub const ARGON2_MEMORY_KIB: u32 = 19_456;
/// See [`ARGON2_MEMORY_KIB`].
pub const ARGON2_ITERATIONS: u32 = 2;
/// See [`ARGON2_MEMORY_KIB`].
pub const ARGON2_LANES: u32 = 1;

/// Shortest password accepted (NIST SP 800-63B).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted (hashing is bounded).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// How long a session lasts without a request.
pub const SESSION_IDLE_MS: i64 = 12 * 3_600_000;
/// How long a session lasts at most.
pub const SESSION_MAX_MS: i64 = 7 * 86_400_000;

/// A user's role in their organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Sees the organisation's projects, events and charts.
    Viewer,
    /// Also acknowledges, gives verdicts, annotates and silences.
    Engineer,
    /// Also manages applications, users and thresholds.
    Admin,
}

impl Role {
    /// The role's name as stored (`viewer`, `engineer`, `admin`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Engineer => "engineer",
            Role::Admin => "admin",
        }
    }

    /// Reads a role from its name.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the roles.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "viewer" => Ok(Role::Viewer),
            "engineer" => Ok(Role::Engineer),
            "admin" => Ok(Role::Admin),
            other => Err(Error::InvalidInput(format!(
                "role {other:?} must be viewer, engineer or admin"
            ))),
        }
    }
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_LANES, None)
        .expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password with argon2id and a random salt (PHC string format).
pub fn hash_password(password: &SecretString) -> String {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2()
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .expect("argon2 hashes any password within the length limit")
        .to_string()
}

/// Whether `password` matches `hash` (constant time within argon2).
pub fn password_matches(password: &SecretString, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    argon2()
        .verify_password(password.expose_secret().as_bytes(), &parsed)
        .is_ok()
}

/// Checks a new password: 12 characters at least, 1024 bytes at most.
///
/// # Errors
/// [`Error::InvalidInput`] saying what is wrong (never the password).
pub fn validate_password(password: &SecretString) -> Result<()> {
    let password = password.expose_secret();
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Error::InvalidInput(format!(
            "a password must have at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(Error::InvalidInput(format!(
            "a password must have at most {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    Ok(())
}

/// An e-mail address as stored: trimmed, lower-cased; checked for one `@` with text on
/// both sides and no spaces or control characters.
///
/// # Errors
/// [`Error::InvalidInput`].
pub fn normalise_email(email: &str) -> Result<String> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email)
    } else {
        Err(Error::InvalidInput(format!(
            "{email:?} is not an e-mail address"
        )))
    }
}

/// Creates a user of an organisation.
///
/// # Errors
/// Invalid e-mail address, role or password; the address is taken; no such
/// organisation; storage errors.
pub async fn create_user(
    store: &dyn Store,
    clock: &dyn Clock,
    org_id: &str,
    email: &str,
    role: &str,
    password: &SecretString,
) -> Result<User> {
    let email = normalise_email(email)?;
    let role = Role::parse(role)?;
    validate_password(password)?;
    let id = uuid::Uuid::new_v4().to_string();
    let hash = hash_password(password);
    Ok(store
        .create_user(
            NewUser {
                id: &id,
                org_id,
                email: &email,
                password_hash: &hash,
                role: role.as_str(),
            },
            clock.now_ms(),
        )
        .await?)
}

/// A hash that no password matches, checked when the address is unknown so that a
/// wrong address takes as long as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&SecretString::from("decoy: never a password")))
}

/// A new session: the id for the cookie (shown once) and what the store keeps.
#[derive(Debug)]
pub struct NewSession {
    /// The session id the cookie carries.
    pub id: SecretString,
    /// What the store keeps (the id's hash, the synchronizer token).
    pub session: Session,
    /// The signed-in user.
    pub user: User,
    /// A new device cookie when the browser presented none of this user's.
    pub new_device: Option<SecretString>,
}

/// The SHA-256 of a session id or device cookie, hex, as the store keeps it.
pub fn session_id_hash(id: &str) -> String {
    hash_secret(id).iter().map(|b| format!("{b:02x}")).collect()
}

/// Allowed sign-in attempts per minute from browsers an account does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInQuota {
    /// Per account and source address.
    pub per_account_and_address: NonZeroU32,
    /// Per source address, whatever the account.
    pub per_address: NonZeroU32,
    /// Per account, whatever the address (a distributed attack).
    pub per_account: NonZeroU32,
}

impl Default for SignInQuota {
    fn default() -> Self {
        Self {
            per_account_and_address: NonZeroU32::new(10).unwrap(),
            per_address: NonZeroU32::new(60).unwrap(),
            per_account: NonZeroU32::new(300).unwrap(),
        }
    }
}

/// Sign-in throttling. Attempts from a browser that already signed in to the account
/// (its device cookie) are never throttled, so an attack on an account never locks its
/// owner out on their usual browsers; other attempts are counted per account and
/// address, per address and per account, and refused beyond the quotas before the
/// password is checked, so passwords cannot be guessed faster than the quotas allow.
pub struct SignInThrottle {
    by_account_and_address: DefaultKeyedRateLimiter<(String, IpAddr)>,
    by_address: DefaultKeyedRateLimiter<IpAddr>,
    by_account: DefaultKeyedRateLimiter<String>,
}

impl SignInThrottle {
    /// A throttle with these quotas.
    pub fn new(quota: SignInQuota) -> Self {
        Self {
            by_account_and_address: RateLimiter::keyed(Quota::per_minute(
                quota.per_account_and_address,
            )),
            by_address: RateLimiter::keyed(Quota::per_minute(quota.per_address)),
            by_account: RateLimiter::keyed(Quota::per_minute(quota.per_account)),
        }
    }

    /// Counts an attempt; how long to wait when it is over a quota.
    fn attempt(&self, account: &str, address: IpAddr) -> Option<Duration> {
        let now = DefaultClock::default().now();
        let wait = |outcome: std::result::Result<(), governor::NotUntil<_>>| {
            outcome.err().map(|n| n.wait_time_from(now))
        };
        // An address over its quota adds no accounts to the tables.
        if let Some(wait) = wait(self.by_address.check_key(&address)) {
            return Some(wait);
        }
        let account: String = account.chars().take(254).collect();
        let pair = wait(
            self.by_account_and_address
                .check_key(&(account.clone(), address)),
        );
        let any = wait(self.by_account.check_key(&account));
        pair.into_iter().chain(any).max()
    }

    /// Forgets entries that are back to a full quota, bounding memory.
    pub fn forget_idle(&self) {
        self.by_account_and_address.retain_recent();
        self.by_address.retain_recent();
        self.by_account.retain_recent();
    }
}

/// A sign-in attempt.
pub struct SignIn<'a> {
    /// The e-mail address typed.
    pub email: &'a str,
    /// The password typed.
    pub password: &'a SecretString,
    /// Where it comes from.
    pub address: IpAddr,
    /// The browser's device cookie, if it has one.
    pub device: Option<&'a str>,
}

/// What a sign-in attempt gives.
#[derive(Debug)]
pub enum SignInOutcome {
    /// Signed in.
    SignedIn(Box<NewSession>),
    /// A wrong address, a wrong password or a disabled user (not told apart).
    Refused,
    /// Too many attempts: not checked; retry after this long.
    Throttled(Duration),
}

/// Signs a user in: throttles, checks the password and starts a new session.
///
/// # Errors
/// Storage errors.
pub async fn sign_in(
    store: &dyn Store,
    clock: &dyn Clock,
    throttle: &SignInThrottle,
    attempt: SignIn<'_>,
) -> Result<SignInOutcome> {
    let email = normalise_email(attempt.email).unwrap_or_default();
    let found = if email.is_empty() {
        None
    } else {
        store.user_credentials(&email).await?
    };
    let known_device = match (attempt.device, &found) {
        (Some(device), Some(found)) => store
            .known_device_user(&session_id_hash(device))
            .await?
            .is_some_and(|user_id| user_id == found.user.id),
        _ => false,
    };
    if !known_device && let Some(wait) = throttle.attempt(&email, attempt.address) {
        return Ok(SignInOutcome::Throttled(wait));
    }
    let password = attempt.password;
    let hash = found
        .as_ref()
        .map_or(decoy_hash(), |f| f.password_hash.as_str());
    let matches =
        password.expose_secret().len() <= MAX_PASSWORD_BYTES && password_matches(password, hash);
    let Some(found) = found.filter(|f| matches && f.user.disabled_at.is_none()) else {
        return Ok(SignInOutcome::Refused);
    };
    let now = clock.now_ms();
    let new_device = if known_device {
        None
    } else {
        let (device, _) = generate_refresh_token();
        store
            .add_known_device(&found.user.id, &session_id_hash(&device), now)
            .await?;
        Some(SecretString::from(device))
    };
    let (id, _) = generate_refresh_token();
    let (csrf_token, _) = generate_refresh_token();
    let session = Session {
        id_hash: session_id_hash(&id),
        csrf_token,
        created_at: now,
        last_seen_at: now,
        expires_at: now + SESSION_MAX_MS,
    };
    store.create_session(&found.user.id, &session).await?;
    Ok(SignInOutcome::SignedIn(Box::new(NewSession {
        id: SecretString::from(id),
        session,
        user: found.user,
        new_device,
    })))
}

/// The live session a cookie's id names, and its user; notes the request. A session
/// idle for longer than [`SESSION_IDLE_MS`] has ended.
///
/// # Errors
/// Storage errors.
pub async fn session(
    store: &dyn Store,
    clock: &dyn Clock,
    id: &str,
) -> Result<Option<(Session, User)>> {
    let now = clock.now_ms();
    let id_hash = session_id_hash(id);
    let Some((session, user)) = store.session(&id_hash, now).await? else {
        return Ok(None);
    };
    if now - session.last_seen_at > SESSION_IDLE_MS {
        store.delete_session(&id_hash).await?;
        return Ok(None);
    }
    store.touch_session(&id_hash, now).await?;
    Ok(Some((session, user)))
}

/// Changes a signed-in user's password after checking the current one; the user's
/// other sessions end.
///
/// # Errors
/// [`Error::InvalidInput`] for a wrong current password or an unacceptable new one;
/// storage errors.
pub async fn change_password(
    store: &dyn Store,
    user: &User,
    session: &Session,
    current: &SecretString,
    new: &SecretString,
) -> Result<()> {
    let stored = store
        .user_credentials(&user.email)
        .await?
        .ok_or_else(|| Error::InvalidInput("the current password is wrong".into()))?;
    if !password_matches(current, &stored.password_hash) {
        return Err(Error::InvalidInput("the current password is wrong".into()));
    }
    validate_password(new)?;
    store
        .set_password(&user.id, &hash_password(new), Some(&session.id_hash))
        .await?;
    Ok(())
}

/// How long an invitation link works.
pub const INVITATION_MS: i64 = 7 * 86_400_000;

/// Invites someone to an organisation with a role: the token of their one-time link
/// (shown once; the store keeps its hash), valid for 7 days.
///
/// # Errors
/// Invalid address or role; storage errors.
pub async fn invite(
    store: &dyn Store,
    clock: &dyn Clock,
    org_id: &str,
    invited_by: &str,
    email: &str,
    role: &str,
) -> Result<SecretString> {
    let email = normalise_email(email)?;
    let role = Role::parse(role)?;
    if store.user_credentials(&email).await?.is_some() {
        return Err(Error::InvalidInput(format!(
            "{email} has an account already"
        )));
    }
    let (token, _) = generate_refresh_token();
    store
        .create_invitation(&vigie_store::Invitation {
            id_hash: session_id_hash(&token),
            org_id: org_id.to_owned(),
            email,
            role: role.as_str().to_owned(),
            invited_by: invited_by.to_owned(),
            expires_at: clock.now_ms() + INVITATION_MS,
        })
        .await?;
    Ok(SecretString::from(token))
}

/// The live invitation a link's token names.
///
/// # Errors
/// Storage errors.
pub async fn invitation(
    store: &dyn Store,
    clock: &dyn Clock,
    token: &str,
) -> Result<Option<vigie_store::Invitation>> {
    Ok(store
        .invitation(&session_id_hash(token), clock.now_ms())
        .await?)
}

/// Accepts an invitation: the invited person's account, with the password they chose;
/// the link stops working.
///
/// # Errors
/// [`Error::InvalidInput`] for an unacceptable password, or a link used or expired;
/// storage errors.
pub async fn accept_invitation(
    store: &dyn Store,
    clock: &dyn Clock,
    token: &str,
    password: &SecretString,
) -> Result<User> {
    validate_password(password)?;
    let gone = || Error::InvalidInput("this invitation has been used or has expired".into());
    let invitation = invitation(store, clock, token).await?.ok_or_else(gone)?;
    let id = uuid::Uuid::new_v4().to_string();
    let hash = hash_password(password);
    let user = NewUser {
        id: &id,
        org_id: &invitation.org_id,
        email: &invitation.email,
        password_hash: &hash,
        role: &invitation.role,
    };
    match store
        .accept_invitation(&invitation.id_hash, user, clock.now_ms())
        .await
    {
        Ok(user) => Ok(user),
        Err(vigie_store::Error::NotFound { .. }) => Err(gone()),
        Err(other) => Err(other.into()),
    }
}

/// Changes a user's role, or disables or enables them; an admin cannot demote or
/// disable themselves (an organisation keeps an admin who can undo it).
///
/// # Errors
/// [`Error::InvalidInput`] for an unknown role or a change of oneself; storage errors
/// ([`vigie_store::Error::NotFound`] for a user of another organisation).
pub async fn set_role(
    store: &dyn Store,
    clock: &dyn Clock,
    admin: &User,
    user_id: &str,
    role: &str,
    enabled: bool,
) -> Result<()> {
    let role = Role::parse(role)?;
    if user_id == admin.id && (role != Role::Admin || !enabled) {
        return Err(Error::InvalidInput(
            "you cannot demote or disable yourself: ask another admin".into(),
        ));
    }
    let disabled_at = (!enabled).then(|| clock.now_ms());
    store
        .set_user_role(&admin.org_id, user_id, role.as_str(), disabled_at)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_owasp_argon2id_and_a_salt() {
        let password = SecretString::from("correct horse battery staple");
        let a = hash_password(&password);
        let b = hash_password(&password);
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "salted");
        assert!(password_matches(&password, &a));
        assert!(!password_matches(
            &SecretString::from("correct horse battery stapler"),
            &a
        ));
        assert!(!password_matches(&password, "not a hash"));
        assert!(!password_matches(&password, decoy_hash()));
    }

    #[test]
    fn inputs_are_checked() {
        assert_eq!(
            normalise_email(" Ada@Example.COM ").unwrap(),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "a b@example.com",
            "a@b@c",
        ] {
            assert!(normalise_email(bad).is_err(), "{bad:?}");
        }
        assert!(validate_password(&SecretString::from("short")).is_err());
        assert!(validate_password(&SecretString::from("x".repeat(1025))).is_err());
        assert!(validate_password(&SecretString::from("twelve chars")).is_ok());
        assert_eq!(Role::parse("engineer").unwrap(), Role::Engineer);
        assert!(Role::parse("root").is_err());
        assert!(Role::Admin > Role::Engineer && Role::Engineer > Role::Viewer);
    }
}
