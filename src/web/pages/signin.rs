//! Sign-in and sign-out pages.
use crate::domain::limits;
use crate::web::input::QueryParams;
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use secrecy::SecretString;
use serde::Deserialize;

use super::{Layout, home_for, render, see_other};
use crate::state::AppState;
use crate::store::users::Role;
use crate::web::ApiError;
use crate::web::auth;
use crate::web::csrf::{CsrfForm, NoFields};

/// Routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/signin", web::get().to(show))
        .route("/signin", web::post().to(submit))
        .route("/signout", web::post().to(sign_out));
}

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage {
    layout: Layout,
    error: Option<String>,
    email: String,
    next: String,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// Only a path on this site may be returned to (no open redirect): `next` must start with a
/// single `/`, hold no control character, space or backslash (browsers drop tabs and newlines
/// and read `\` as `/`, so `/\t/evil.example` would leave the site), and still be on this
/// origin once parsed. The re-serialised path and query are returned, never the raw text.
pub fn safe_next(next: Option<&str>) -> Option<String> {
    let n = next?;
    if n.len() > 2000
        || !n.starts_with('/')
        || n.starts_with("//")
        || n.chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    {
        return None;
    }
    let base = url::Url::parse("http://titanbridge.invalid/").ok()?;
    let joined = base.join(n).ok()?;
    if joined.origin() != base.origin() {
        return None;
    }
    let mut out = joined.path().to_owned();
    if let Some(q) = joined.query() {
        out.push('?');
        out.push_str(q);
    }
    Some(out)
}

async fn show(session: Session, q: QueryParams<NextQuery>) -> HttpResponse {
    if let Some(u) = auth::current_user(&session) {
        return see_other(home_for(&u));
    }
    render(
        StatusCode::OK,
        &SignInPage {
            layout: Layout::new(&session),
            error: None,
            email: String::new(),
            next: safe_next(q.next.as_deref()).unwrap_or_default(),
        },
    )
}

#[derive(Deserialize)]
struct SignInForm {
    email: String,
    password: String,
    next: Option<String>,
}

async fn submit(
    req: HttpRequest,
    session: Session,
    state: web::Data<AppState>,
    limiter: web::Data<crate::web::auth::SignInLimiter>,
    form: CsrfForm<SignInForm>,
) -> HttpResponse {
    let mut form = form.0;
    // Over-long input cannot be a real account; it is refused like a wrong password.
    if form.email.chars().count() > limits::SIGN_IN_FIELD_MAX_CHARS
        || form.password.chars().count() > limits::SIGN_IN_FIELD_MAX_CHARS
    {
        form.email = crate::web::input::truncate(&form.email, limits::SIGN_IN_FIELD_MAX_CHARS);
        form.password = String::new();
    }
    let password = SecretString::from(form.password);
    let ip = req.peer_addr().map(|a| a.ip());
    match auth::authenticate(&state, &limiter, &form.email, &password, ip).await {
        Ok(user) => {
            let had_form = super::kept::Kept::peek(&session).is_some();
            if auth::sign_in(&session, &user).is_err() {
                return see_other("/signin");
            }
            if had_form {
                super::flash(
                    &session,
                    true,
                    "Signed in again. What you typed is back in the form: check it and send it again.",
                );
            }
            // A Continue Setup link opened before signing in leads to the credentials step.
            let continuing =
                user.role == Role::PartnerAdmin && auth::take_continue(&session).is_some();
            let to = if continuing {
                "/settings/integrations/servicetitan/credentials".to_owned()
            } else {
                safe_next(form.next.as_deref()).unwrap_or_else(|| home_for(&user).to_owned())
            };
            see_other(&to)
        }
        Err(e) => {
            let status = match &e {
                ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::OK,
            };
            let mut resp = render(
                status,
                &SignInPage {
                    layout: Layout::new(&session),
                    error: Some(e.to_string()),
                    email: form.email,
                    next: safe_next(form.next.as_deref()).unwrap_or_default(),
                },
            );
            if let ApiError::TooManyRequests { retry_after_secs } = e
                && let Ok(v) = retry_after_secs.to_string().parse()
            {
                resp.headers_mut()
                    .insert(actix_web::http::header::RETRY_AFTER, v);
            }
            resp
        }
    }
}

async fn sign_out(session: Session, _form: CsrfForm<NoFields>) -> HttpResponse {
    auth::sign_out(&session);
    see_other("/signin")
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/ops")).as_deref(), Some("/ops"));
        assert_eq!(
            safe_next(Some("/settings/integrations?tab=a%20b")).as_deref(),
            Some("/settings/integrations?tab=a%20b")
        );
        for bad in [
            "//evil.example",
            "/\tevil",
            "/\t/evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "https://evil.example/",
            "evil.example",
            "/ok\nSet-Cookie: x=1",
            "/ok\r\n",
            " /ops",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), None, "{bad:?}");
        }
        assert_eq!(safe_next(None), None);
        // Dot segments resolve on this site.
        assert_eq!(safe_next(Some("/a/../ops")).as_deref(), Some("/ops"));
    }
}
