//! The onboarding emails: what they say, as plain text and HTML.
use askama::Template;

use crate::store::outbox::NewEmail;

/// Subject of the approval email.
pub const APPROVED_SUBJECT: &str = "Your ServiceTitan integration was approved: continue setup";
/// Subject of the rejection email.
pub const REJECTED_SUBJECT: &str = "Your ServiceTitan integration request needs changes";

#[derive(Template)]
#[template(path = "email/approved.html")]
struct ApprovedHtml<'a> {
    partner: &'a str,
    tenant_id: i64,
    link: &'a str,
    days: i64,
}

#[derive(Template)]
#[template(path = "email/approved.txt")]
struct ApprovedText<'a> {
    partner: &'a str,
    tenant_id: i64,
    link: &'a str,
    days: i64,
}

#[derive(Template)]
#[template(path = "email/rejected.html")]
struct RejectedHtml<'a> {
    partner: &'a str,
    tenant_id: i64,
    reason: &'a str,
    settings_url: &'a str,
}

#[derive(Template)]
#[template(path = "email/rejected.txt")]
struct RejectedText<'a> {
    partner: &'a str,
    tenant_id: i64,
    reason: &'a str,
    settings_url: &'a str,
}

fn render(t: &impl Template) -> String {
    // Templates are compiled in; rendering can only fail on a formatter error.
    t.render()
        .unwrap_or_else(|e| format!("(could not render message: {e})"))
}

/// The "approved, continue setup" email with the single-use link.
pub fn approved(
    integration_id: i64,
    to: &str,
    partner: &str,
    tenant_id: i64,
    link: &str,
    days: i64,
) -> NewEmail {
    NewEmail {
        integration_id: Some(integration_id),
        to: to.to_owned(),
        subject: APPROVED_SUBJECT.to_owned(),
        text: render(&ApprovedText {
            partner,
            tenant_id,
            link,
            days,
        }),
        html: render(&ApprovedHtml {
            partner,
            tenant_id,
            link,
            days,
        }),
    }
}

/// The "rejected, here is why" email.
pub fn rejected(
    integration_id: i64,
    to: &str,
    partner: &str,
    tenant_id: i64,
    reason: &str,
    settings_url: &str,
) -> NewEmail {
    NewEmail {
        integration_id: Some(integration_id),
        to: to.to_owned(),
        subject: REJECTED_SUBJECT.to_owned(),
        text: render(&RejectedText {
            partner,
            tenant_id,
            reason,
            settings_url,
        }),
        html: render(&RejectedHtml {
            partner,
            tenant_id,
            reason,
            settings_url,
        }),
    }
}

/// Subject of the "ServiceTitan refused our credentials" email.
pub const DISCONNECTED_SUBJECT: &str = "ServiceTitan disconnected: reconnect to resume sync";

#[derive(Template)]
#[template(path = "email/disconnected.html")]
struct DisconnectedHtml<'a> {
    partner: &'a str,
    tenant_id: i64,
    reason: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/disconnected.txt")]
struct DisconnectedText<'a> {
    partner: &'a str,
    tenant_id: i64,
    reason: &'a str,
    link: &'a str,
}

/// The "ServiceTitan refused our credentials, reconnect here" email to a partner admin.
pub fn disconnected(
    integration_id: i64,
    to: &str,
    partner: &str,
    tenant_id: i64,
    reason: &str,
    link: &str,
) -> NewEmail {
    NewEmail {
        integration_id: Some(integration_id),
        to: to.to_owned(),
        subject: DISCONNECTED_SUBJECT.to_owned(),
        text: render(&DisconnectedText {
            partner,
            tenant_id,
            reason,
            link,
        }),
        html: render(&DisconnectedHtml {
            partner,
            tenant_id,
            reason,
            link,
        }),
    }
}

#[derive(Template)]
#[template(path = "email/sync_alert.html")]
struct SyncAlertHtml<'a> {
    integration_id: i64,
    partner: &'a str,
    lines: &'a [String],
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/sync_alert.txt")]
struct SyncAlertText<'a> {
    integration_id: i64,
    partner: &'a str,
    lines: &'a [String],
    link: &'a str,
}

/// The ops digest of one integration's sync alerts (dead tasks, lag, disconnection).
pub fn sync_alert(
    integration_id: i64,
    to: &str,
    partner: &str,
    lines: &[String],
    link: &str,
) -> NewEmail {
    NewEmail {
        integration_id: Some(integration_id),
        to: to.to_owned(),
        subject: format!("Sync alert: integration {integration_id} ({partner})"),
        text: render(&SyncAlertText {
            integration_id,
            partner,
            lines,
            link,
        }),
        html: render(&SyncAlertHtml {
            integration_id,
            partner,
            lines,
            link,
        }),
    }
}
