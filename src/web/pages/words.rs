//! The contractor's words for our internal names: onboarding states and audited events as the
//! history tables show them (never `credentials_connected → credentials_connected`).
use crate::domain::onboarding::IntegrationState;

/// A state as a person reads it.
pub fn state_label(state: IntegrationState) -> &'static str {
    use IntegrationState as S;
    match state {
        S::NotConnected => "Not connected",
        S::TenantSubmitted => "Tenant submitted",
        S::PendingApproval => "Waiting for approval",
        S::Approved => "Approved: connect credentials",
        S::CredentialsConnected => "Credentials connected",
        S::MappingsComplete => "Mappings complete",
        S::Active => "Active",
        S::Rejected => "Not approved",
        S::Disconnected => "Disconnected",
        S::Suspended => "Suspended",
    }
}

/// A stored state name as a person reads it (unknown names are shown as stored).
pub fn state_name(stored: &str) -> String {
    stored
        .parse::<IntegrationState>()
        .map(|s| state_label(s).to_owned())
        .unwrap_or_else(|_| stored.to_owned())
}

/// An audited event or action as a person reads it.
pub fn event_name(stored: &str) -> String {
    let known = match stored {
        "submit_tenant" => "Tenant ID submitted",
        "queue_for_review" => "Sent for review",
        "approve" => "Approved",
        "reject" => "Not approved",
        "connect_credentials" => "Credentials connected",
        "credentials_failed" => "Credentials refused by ServiceTitan",
        "disconnect" => "Disconnected",
        "reconnect" => "Reconnect started",
        "complete_mappings" => "Mappings completed",
        "activate" => "Went live",
        "suspend" => "Suspended",
        "resume" => "Resumed",
        "withdraw" => "Tenant ID withdrawn",
        "mapping_edited" => "Mapping changed",
        "resend_setup_link" => "New setup link sent",
        other => return other.replace('_', " "),
    };
    known.to_owned()
}

/// "From → to" for a history row, or "no change" when the state stayed.
pub fn transition_text(from: &str, to: &str) -> String {
    if from == to {
        "no change".to_owned()
    } else {
        format!("{} → {}", state_name(from), state_name(to))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_names_read_as_words() {
        for s in IntegrationState::ALL {
            assert!(!state_name(s.as_str()).contains('_'), "{s}");
        }
        for k in crate::domain::onboarding::EventKind::ALL {
            assert!(!event_name(k.as_str()).contains('_'), "{k}");
        }
        assert_eq!(
            transition_text("credentials_connected", "credentials_connected"),
            "no change"
        );
        assert_eq!(
            transition_text("pending_approval", "approved"),
            "Waiting for approval → Approved: connect credentials"
        );
        assert_eq!(event_name("mapping_edited"), "Mapping changed");
    }
}
