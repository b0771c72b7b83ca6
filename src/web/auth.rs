//! Who is signed in: password sign-in with a rate limit, the session contents, and extractors
//! that admit only partner admins or only ops users.
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::OnceLock;

use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use futures::future::{Ready, ready};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::ApiError;
use crate::crypto;
use crate::state::AppState;
use crate::store::users::{self, Role};

const USER_KEY: &str = "user";
const CSRF_KEY: &str = "csrf";

/// What the session cookie remembers about the signed-in user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionUser {
    /// `users.id`.
    pub user_id: i64,
    /// Sign-in email.
    pub email: String,
    /// Display name.
    pub name: String,
    /// `partner_admin` or `ops`.
    #[schema(value_type = String)]
    pub role: Role,
    /// The partner a partner admin belongs to.
    pub partner_id: Option<i64>,
}

impl SessionUser {
    /// The audit-log actor for this user.
    pub fn actor(&self) -> crate::store::integrations::Actor {
        let role = match self.role {
            Role::Ops => "ops",
            Role::PartnerAdmin => "partner",
        };
        crate::store::integrations::Actor::user(role, self.user_id, &self.email)
    }
}

/// The signed-in user, if any.
pub fn current_user(session: &Session) -> Option<SessionUser> {
    session.get::<SessionUser>(USER_KEY).ok().flatten()
}

/// The session's CSRF token, creating one if the session has none (anonymous pages too).
pub fn csrf_token(session: &Session) -> String {
    if let Ok(Some(t)) = session.get::<String>(CSRF_KEY) {
        return t;
    }
    let t = crypto::random_token();
    let _ = session.insert(CSRF_KEY, &t);
    t
}

/// Starts a fresh session for `user` (a new cookie, so a planted session cannot be reused).
pub fn sign_in(session: &Session, user: &SessionUser) -> Result<String, ApiError> {
    let next_setup = session.get::<i64>(CONTINUE_KEY).ok().flatten();
    // A form kept when the previous session expired goes back to it after signing in.
    let kept = super::pages::kept::Kept::peek(session);
    session.clear();
    session.renew();
    session
        .insert(USER_KEY, user)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let token = crypto::random_token();
    session
        .insert(CSRF_KEY, &token)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    if let Some(id) = next_setup {
        let _ = session.insert(CONTINUE_KEY, id);
    }
    if let Some(k) = kept {
        super::pages::kept::Kept::restore(session, k);
    }
    Ok(token)
}

/// Forgets the session.
pub fn sign_out(session: &Session) {
    session.purge();
}

const CONTINUE_KEY: &str = "continue_setup";

/// Remembers that a Continue Setup link for `integration_id` was opened before signing in.
pub fn remember_continue(session: &Session, integration_id: i64) {
    let _ = session.insert(CONTINUE_KEY, integration_id);
}

/// Takes the remembered Continue Setup integration, if any.
pub fn take_continue(session: &Session) -> Option<i64> {
    session.remove_as::<i64>(CONTINUE_KEY).and_then(Result::ok)
}

/// Sign-in attempts allowed per minute for one email address.
pub const PER_EMAIL_PER_MIN: u32 = 5;
/// Sign-in attempts allowed per minute from one IP address.
pub const PER_IP_PER_MIN: u32 = 20;

/// Limits sign-in attempts by email and by client IP.
pub struct SignInLimiter {
    by_email: DefaultKeyedRateLimiter<String>,
    by_ip: DefaultKeyedRateLimiter<IpAddr>,
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

impl Default for SignInLimiter {
    fn default() -> Self {
        SignInLimiter {
            by_email: RateLimiter::keyed(per_minute(PER_EMAIL_PER_MIN)),
            by_ip: RateLimiter::keyed(per_minute(PER_IP_PER_MIN)),
        }
    }
}

impl SignInLimiter {
    /// Counts one attempt; `Err(seconds)` when either limit is exceeded.
    pub fn check(&self, email: &str, ip: Option<IpAddr>) -> Result<(), u64> {
        let now = DefaultClock::default().now();
        let wait = |d: std::time::Duration| d.as_secs().max(1);
        if let Some(ip) = ip {
            self.by_ip
                .check_key(&ip)
                .map_err(|n| wait(n.wait_time_from(now)))?;
        }
        self.by_email
            .check_key(&email.trim().to_lowercase())
            .map_err(|n| wait(n.wait_time_from(now)))
    }
}

fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        crypto::hash_password(&SecretString::from("not-a-real-password".to_owned()))
            .unwrap_or_default()
    })
}

/// Checks an email and password (rate limited). Unknown emails cost the same argon2 work as
/// known ones, and both failures read the same.
pub async fn authenticate(
    state: &AppState,
    limiter: &SignInLimiter,
    email: &str,
    password: &SecretString,
    ip: Option<IpAddr>,
) -> Result<SessionUser, ApiError> {
    limiter
        .check(email, ip)
        .map_err(|retry_after_secs| ApiError::TooManyRequests { retry_after_secs })?;
    let user = users::find_by_email(state.store.db(), email).await?;
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| dummy_hash().to_owned());
    let ok = {
        let password = password.clone();
        tokio::task::spawn_blocking(move || crypto::verify_password(&password, &hash))
            .await
            .unwrap_or(false)
    };
    match user {
        Some(u) if ok => {
            let role = Role::parse(&u.role)
                .ok_or_else(|| ApiError::Internal(format!("user {} has role {}", u.id, u.role)))?;
            tracing::info!(user_id = u.id, role = role.as_str(), "signed in");
            Ok(SessionUser {
                user_id: u.id,
                email: u.email,
                name: u.name,
                role,
                partner_id: u.partner_id,
            })
        }
        _ => {
            tracing::info!("sign-in refused");
            Err(ApiError::BadRequest {
                message: "The email or password was not recognised".into(),
            })
        }
    }
}

fn require(req: &HttpRequest, role: Role) -> Result<SessionUser, ApiError> {
    let user = current_user(&req.get_session()).ok_or(ApiError::Unauthorized)?;
    if user.role != role {
        return Err(ApiError::Forbidden(match role {
            Role::Ops => "this is for titanbridge operations staff only".into(),
            Role::PartnerAdmin => "this is for partner admins only".into(),
        }));
    }
    if role == Role::PartnerAdmin && user.partner_id.is_none() {
        return Err(ApiError::Forbidden(
            "this user belongs to no partner".into(),
        ));
    }
    Ok(user)
}

/// A signed-in partner admin (401 when signed out, 403 for other roles).
#[derive(Debug, Clone)]
pub struct PartnerAdmin {
    /// The user.
    pub user: SessionUser,
    /// Their partner.
    pub partner_id: i64,
}

impl FromRequest for PartnerAdmin {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(require(req, Role::PartnerAdmin).map(|user| PartnerAdmin {
            partner_id: user.partner_id.unwrap_or_default(),
            user,
        }))
    }
}

/// A signed-in ops user (401 when signed out, 403 for other roles).
#[derive(Debug, Clone)]
pub struct OpsUser(pub SessionUser);

impl FromRequest for OpsUser {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(require(req, Role::Ops).map(OpsUser))
    }
}

/// The session cookie: encrypted and signed with `key`, HttpOnly, SameSite=Lax, Secure unless
/// the public URL is on loopback.
pub fn session_middleware(
    key: actix_web::cookie::Key,
    secure: bool,
) -> actix_session::SessionMiddleware<actix_session::storage::CookieSessionStore> {
    use actix_session::config::{CookieContentSecurity, PersistentSession};
    actix_session::SessionMiddleware::builder(
        actix_session::storage::CookieSessionStore::default(),
        key,
    )
    .cookie_name("titanbridge_session".into())
    .cookie_http_only(true)
    .cookie_same_site(actix_web::cookie::SameSite::Lax)
    .cookie_secure(secure)
    .cookie_content_security(CookieContentSecurity::Private)
    .session_lifecycle(
        PersistentSession::default().session_ttl(actix_web::cookie::time::Duration::hours(12)),
    )
    .build()
}
