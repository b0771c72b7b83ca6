//! The onboarding state machine of one integration (see `DESIGN.md`, "Onboarding states").
//!
//! ```text
//! not_connected → tenant_submitted → pending_approval → approved
//!    → credentials_connected → mappings_complete → active
//! ```
//! Side exits and the choices made here:
//! - `reject` (reason required) only from `pending_approval`; from `rejected` the partner may
//!   `submit_tenant` again.
//! - `credentials_failed` (the worker saw a 401/invalid_client) and `disconnect` (the partner
//!   removed the credentials) lead from `credentials_connected`, `mappings_complete` or `active`
//!   to `disconnected`; `reconnect` goes back to `approved`, and the partner then walks the
//!   credentials and mappings steps again (saved mappings are kept, so the web layer may issue
//!   `complete_mappings` at once when nothing is missing).
//! - `suspend` (ops, reason required) only from `active`, so `resume` always returns to `active`
//!   without remembering where it came from. A suspended integration cannot be disconnected or
//!   reconnected by the partner: that would be a way around the suspension. Ops resume first.
//! - `withdraw` (the partner) from `tenant_submitted`, `pending_approval` or `approved` goes
//!   back to `not_connected`, so a wrong Tenant ID can be corrected and submitted for review
//!   again (an approval never carries over to another Tenant ID).
//! - No state is terminal: every state allows at least one event.
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where an integration stands in onboarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationState {
    /// Nothing submitted yet.
    NotConnected,
    /// The partner submitted a tenant ID; the review request is not queued yet.
    TenantSubmitted,
    /// Waiting for ops to approve or reject.
    PendingApproval,
    /// Approved by ops; the partner is asked (by email) to connect credentials.
    Approved,
    /// Client ID and secret verified against the tenant.
    CredentialsConnected,
    /// Every mapping made; ready to go live.
    MappingsComplete,
    /// Live: sync runs.
    Active,
    /// Rejected by ops with a reason; the partner may resubmit.
    Rejected,
    /// Credentials revoked or failing; the partner must reconnect.
    Disconnected,
    /// Stopped by ops with a reason.
    Suspended,
}

impl IntegrationState {
    /// Every state, in onboarding order then the side exits.
    pub const ALL: [IntegrationState; 10] = [
        Self::NotConnected,
        Self::TenantSubmitted,
        Self::PendingApproval,
        Self::Approved,
        Self::CredentialsConnected,
        Self::MappingsComplete,
        Self::Active,
        Self::Rejected,
        Self::Disconnected,
        Self::Suspended,
    ];

    /// The snake_case name stored in the database and shown in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotConnected => "not_connected",
            Self::TenantSubmitted => "tenant_submitted",
            Self::PendingApproval => "pending_approval",
            Self::Approved => "approved",
            Self::CredentialsConnected => "credentials_connected",
            Self::MappingsComplete => "mappings_complete",
            Self::Active => "active",
            Self::Rejected => "rejected",
            Self::Disconnected => "disconnected",
            Self::Suspended => "suspended",
        }
    }
}

impl fmt::Display for IntegrationState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored state name that is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown integration state '{0}'")]
pub struct UnknownState(pub String);

impl FromStr for IntegrationState {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownState(s.to_owned()))
    }
}

/// A non-empty, trimmed reason (for reject and suspend).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Reason(String);

/// The reason was empty or too long.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReasonRequired {
    #[error("a reason is required")]
    Empty,
    #[error(
        "a reason may be at most {} characters",
        crate::domain::limits::REASON_MAX_CHARS
    )]
    TooLong,
}

impl Reason {
    /// Trims the text and refuses it if nothing is left or it is longer than
    /// [`crate::domain::limits::REASON_MAX_CHARS`].
    pub fn parse(text: &str) -> Result<Self, ReasonRequired> {
        let t = text.trim();
        if t.is_empty() {
            Err(ReasonRequired::Empty)
        } else if t.chars().count() > crate::domain::limits::REASON_MAX_CHARS {
            Err(ReasonRequired::TooLong)
        } else {
            Ok(Reason(t.to_owned()))
        }
    }

    /// The reason text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Something that happens to an integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The partner submits (or resubmits) a tenant ID.
    SubmitTenant,
    /// The review request is queued for ops.
    QueueForReview,
    /// Ops approve.
    Approve,
    /// Ops reject, with a reason the partner sees.
    Reject {
        /// Shown to the partner.
        reason: Reason,
    },
    /// Credentials verified against the tenant.
    ConnectCredentials,
    /// ServiceTitan refused the stored credentials (or a scope the app needs), with what it
    /// said: shown to the partner and ops, kept in the audit log.
    CredentialsFailed {
        /// Why, e.g. "ServiceTitan rejected the Client ID or Client Secret (3 times)".
        reason: Reason,
    },
    /// The partner removed the credentials.
    Disconnect,
    /// The partner starts connecting credentials again after a disconnect.
    Reconnect,
    /// Every mapping is made.
    CompleteMappings,
    /// The partner submits the integration; sync starts.
    Activate,
    /// Ops suspend, with a reason.
    Suspend {
        /// Shown to the partner.
        reason: Reason,
    },
    /// Ops resume a suspended integration.
    Resume,
    /// The partner withdraws a submitted (or approved) Tenant ID to correct it.
    Withdraw,
}

impl Event {
    /// `credentials_failed` with what ServiceTitan said (a generic text when it said nothing).
    pub fn credentials_failed(what: &str) -> Event {
        let reason = Reason::parse(what)
            .unwrap_or_else(|_| Reason("ServiceTitan refused the credentials".to_owned()));
        Event::CredentialsFailed { reason }
    }

    /// The kind of this event, without its data.
    pub fn kind(&self) -> EventKind {
        match self {
            Self::SubmitTenant => EventKind::SubmitTenant,
            Self::QueueForReview => EventKind::QueueForReview,
            Self::Approve => EventKind::Approve,
            Self::Reject { .. } => EventKind::Reject,
            Self::ConnectCredentials => EventKind::ConnectCredentials,
            Self::CredentialsFailed { .. } => EventKind::CredentialsFailed,
            Self::Disconnect => EventKind::Disconnect,
            Self::Reconnect => EventKind::Reconnect,
            Self::CompleteMappings => EventKind::CompleteMappings,
            Self::Activate => EventKind::Activate,
            Self::Suspend { .. } => EventKind::Suspend,
            Self::Resume => EventKind::Resume,
            Self::Withdraw => EventKind::Withdraw,
        }
    }

    /// The reason carried by the event, for the audit log.
    pub fn reason(&self) -> Option<&Reason> {
        match self {
            Self::Reject { reason }
            | Self::Suspend { reason }
            | Self::CredentialsFailed { reason } => Some(reason),
            _ => None,
        }
    }
}

/// The kind of an [`Event`], without data: used in errors and in "allowed moves" lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// See [`Event::SubmitTenant`].
    SubmitTenant,
    /// See [`Event::QueueForReview`].
    QueueForReview,
    /// See [`Event::Approve`].
    Approve,
    /// See [`Event::Reject`].
    Reject,
    /// See [`Event::ConnectCredentials`].
    ConnectCredentials,
    /// See [`Event::CredentialsFailed`].
    CredentialsFailed,
    /// See [`Event::Disconnect`].
    Disconnect,
    /// See [`Event::Reconnect`].
    Reconnect,
    /// See [`Event::CompleteMappings`].
    CompleteMappings,
    /// See [`Event::Activate`].
    Activate,
    /// See [`Event::Suspend`].
    Suspend,
    /// See [`Event::Resume`].
    Resume,
    /// See [`Event::Withdraw`].
    Withdraw,
}

impl EventKind {
    /// Every event kind; `allowed_events` lists kinds in this order.
    pub const ALL: [EventKind; 13] = [
        Self::SubmitTenant,
        Self::QueueForReview,
        Self::Approve,
        Self::Reject,
        Self::ConnectCredentials,
        Self::CredentialsFailed,
        Self::Disconnect,
        Self::Reconnect,
        Self::CompleteMappings,
        Self::Activate,
        Self::Suspend,
        Self::Resume,
        Self::Withdraw,
    ];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SubmitTenant => "submit_tenant",
            Self::QueueForReview => "queue_for_review",
            Self::Approve => "approve",
            Self::Reject => "reject",
            Self::ConnectCredentials => "connect_credentials",
            Self::CredentialsFailed => "credentials_failed",
            Self::Disconnect => "disconnect",
            Self::Reconnect => "reconnect",
            Self::CompleteMappings => "complete_mappings",
            Self::Activate => "activate",
            Self::Suspend => "suspend",
            Self::Resume => "resume",
            Self::Withdraw => "withdraw",
        }
    }

    /// Whether the event must carry a non-empty reason.
    pub fn needs_reason(self) -> bool {
        matches!(self, Self::Reject | Self::Suspend)
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown event name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event '{0}'")]
pub struct UnknownEvent(pub String);

impl FromStr for EventKind {
    type Err = UnknownEvent;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownEvent(s.to_owned()))
    }
}

/// An illegal move: names the state, the event and what the state allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "cannot {event} an integration in state {from}; allowed: {}",
    list(allowed)
)]
pub struct TransitionError {
    /// The state the integration is in.
    pub from: IntegrationState,
    /// The event that was refused.
    pub event: EventKind,
    /// The events this state allows (same as [`allowed_events`]).
    pub allowed: Vec<EventKind>,
}

fn list(kinds: &[EventKind]) -> String {
    if kinds.is_empty() {
        return "none".to_owned();
    }
    kinds
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The target state of `kind` from `from`, or `None` if the move is illegal. The one table of
/// legal moves.
fn target(from: IntegrationState, kind: EventKind) -> Option<IntegrationState> {
    use EventKind as E;
    use IntegrationState as S;
    let to = match (from, kind) {
        (S::NotConnected | S::Rejected, E::SubmitTenant) => S::TenantSubmitted,
        (S::TenantSubmitted, E::QueueForReview) => S::PendingApproval,
        (S::PendingApproval, E::Approve) => S::Approved,
        (S::PendingApproval, E::Reject) => S::Rejected,
        (S::Approved, E::ConnectCredentials) => S::CredentialsConnected,
        (S::CredentialsConnected | S::MappingsComplete | S::Active, E::CredentialsFailed) => {
            S::Disconnected
        }
        (S::CredentialsConnected | S::MappingsComplete | S::Active, E::Disconnect) => {
            S::Disconnected
        }
        (S::Disconnected, E::Reconnect) => S::Approved,
        (S::CredentialsConnected, E::CompleteMappings) => S::MappingsComplete,
        (S::MappingsComplete, E::Activate) => S::Active,
        (S::Active, E::Suspend) => S::Suspended,
        (S::Suspended, E::Resume) => S::Active,
        (S::TenantSubmitted | S::PendingApproval | S::Approved, E::Withdraw) => S::NotConnected,
        _ => return None,
    };
    Some(to)
}

/// The events `state` allows, in [`EventKind::ALL`] order.
pub fn allowed_events(state: IntegrationState) -> Vec<EventKind> {
    EventKind::ALL
        .into_iter()
        .filter(|k| target(state, *k).is_some())
        .collect()
}

/// Applies `event` to `from`: the new state, or an error naming what `from` allows.
pub fn transition(
    from: IntegrationState,
    event: &Event,
) -> Result<IntegrationState, TransitionError> {
    let kind = event.kind();
    target(from, kind).ok_or_else(|| TransitionError {
        from,
        event: kind,
        allowed: allowed_events(from),
    })
}

/// Whether sync runs for an integration in `state` (only `active`).
pub fn is_syncing(state: IntegrationState) -> bool {
    state == IntegrationState::Active
}

#[cfg(test)]
mod tests {
    use super::*;
    use IntegrationState as S;
    use proptest::prelude::*;

    fn event_of(kind: EventKind) -> Event {
        let reason = || Reason::parse("because").expect("non-empty");
        match kind {
            EventKind::SubmitTenant => Event::SubmitTenant,
            EventKind::QueueForReview => Event::QueueForReview,
            EventKind::Approve => Event::Approve,
            EventKind::Reject => Event::Reject { reason: reason() },
            EventKind::ConnectCredentials => Event::ConnectCredentials,
            EventKind::CredentialsFailed => Event::CredentialsFailed { reason: reason() },
            EventKind::Disconnect => Event::Disconnect,
            EventKind::Reconnect => Event::Reconnect,
            EventKind::CompleteMappings => Event::CompleteMappings,
            EventKind::Activate => Event::Activate,
            EventKind::Suspend => Event::Suspend { reason: reason() },
            EventKind::Resume => Event::Resume,
            EventKind::Withdraw => Event::Withdraw,
        }
    }

    fn run(kinds: &[EventKind]) -> Result<IntegrationState, TransitionError> {
        kinds
            .iter()
            .try_fold(S::NotConnected, |s, k| transition(s, &event_of(*k)))
    }

    #[test]
    fn happy_path_reaches_active() {
        use EventKind as E;
        let path = [
            E::SubmitTenant,
            E::QueueForReview,
            E::Approve,
            E::ConnectCredentials,
            E::CompleteMappings,
            E::Activate,
        ];
        assert_eq!(run(&path), Ok(S::Active));
        assert!(is_syncing(S::Active));
        assert!(S::ALL.iter().filter(|s| is_syncing(**s)).count() == 1);
    }

    #[test]
    fn side_exits() {
        use EventKind as E;
        let to_pending = [E::SubmitTenant, E::QueueForReview];
        let mut p = to_pending.to_vec();
        p.extend([E::Reject, E::SubmitTenant, E::QueueForReview, E::Approve]);
        assert_eq!(run(&p), Ok(S::Approved));
        let live = [
            E::SubmitTenant,
            E::QueueForReview,
            E::Approve,
            E::ConnectCredentials,
            E::CompleteMappings,
            E::Activate,
        ];
        let mut p = live.to_vec();
        p.extend([E::Suspend, E::Resume]);
        assert_eq!(run(&p), Ok(S::Active));
        let mut p = live.to_vec();
        p.extend([E::CredentialsFailed, E::Reconnect]);
        assert_eq!(run(&p), Ok(S::Approved));
        // A wrong Tenant ID, pending or approved, is withdrawn and goes back to review.
        for stop in [1, 2, 3] {
            let mut p = live[..stop].to_vec();
            p.extend([E::Withdraw, E::SubmitTenant, E::QueueForReview]);
            assert_eq!(
                run(&p),
                Ok(S::PendingApproval),
                "withdrawn after {stop} steps"
            );
        }
        let mut p = live[..4].to_vec();
        p.push(E::Withdraw);
        assert!(
            run(&p).is_err(),
            "connected credentials are disconnected, not withdrawn"
        );
        let mut p = live.to_vec();
        p.extend([E::Suspend, E::Disconnect]);
        assert!(
            run(&p).is_err(),
            "a suspension cannot be escaped by disconnecting"
        );
    }

    #[test]
    fn error_message_names_state_event_and_allowed() {
        let err = transition(S::Active, &Event::Approve).unwrap_err();
        assert_eq!(err.from, S::Active);
        assert_eq!(err.event, EventKind::Approve);
        assert_eq!(
            err.to_string(),
            "cannot approve an integration in state active; allowed: credentials_failed, disconnect, suspend"
        );
    }

    #[test]
    fn reasons_must_not_be_empty() {
        assert_eq!(Reason::parse("  \n"), Err(ReasonRequired::Empty));
        assert_eq!(
            Reason::parse(&"x".repeat(2001)),
            Err(ReasonRequired::TooLong)
        );
        assert_eq!(Reason::parse(" spam ").unwrap().as_str(), "spam");
        let ev = Event::Reject {
            reason: Reason::parse("wrong tenant").unwrap(),
        };
        assert_eq!(ev.reason().map(Reason::as_str), Some("wrong tenant"));
        assert!(EventKind::Reject.needs_reason() && EventKind::Suspend.needs_reason());
        assert!(!EventKind::Approve.needs_reason());
    }

    #[test]
    fn names_round_trip() {
        for s in S::ALL {
            assert_eq!(s.as_str().parse::<S>(), Ok(s));
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        for k in EventKind::ALL {
            assert_eq!(k.as_str().parse::<EventKind>(), Ok(k));
            assert_eq!(event_of(k).kind(), k);
        }
        assert!("Active".parse::<S>().is_err());
        assert!("".parse::<EventKind>().is_err());
    }

    #[test]
    fn no_state_is_a_dead_end() {
        for s in S::ALL {
            assert!(!allowed_events(s).is_empty(), "{s} has no way out");
        }
    }

    #[test]
    fn every_state_is_reachable() {
        let mut seen = vec![S::NotConnected];
        let mut frontier = vec![S::NotConnected];
        while let Some(s) = frontier.pop() {
            for k in allowed_events(s) {
                let to = transition(s, &event_of(k)).unwrap();
                if !seen.contains(&to) {
                    seen.push(to);
                    frontier.push(to);
                }
            }
        }
        assert_eq!(seen.len(), S::ALL.len());
    }

    /// Whether `needed` appears in order (not necessarily adjacent) in `path`.
    fn in_order(path: &[IntegrationState], needed: &[IntegrationState]) -> bool {
        let mut it = path.iter();
        needed.iter().all(|n| it.any(|p| p == n))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn active_only_after_approval_credentials_and_mappings(
            // (legal, n): a legal move (n-th allowed) most of the time, so paths get far;
            // otherwise any event, legal or not.
            picks in proptest::collection::vec((proptest::bool::weighted(0.7), 0..64usize), 0..80)
        ) {
            let mut state = S::NotConnected;
            // States visited since the last tenant submission.
            let mut since_submit: Vec<IntegrationState> = vec![state];
            for (legal, n) in picks {
                let allowed = allowed_events(state);
                let kind = if legal {
                    allowed[n % allowed.len()]
                } else {
                    EventKind::ALL[n % EventKind::ALL.len()]
                };
                match transition(state, &event_of(kind)) {
                    Ok(next) => {
                        prop_assert!(allowed.contains(&kind));
                        if kind == EventKind::SubmitTenant {
                            since_submit.clear();
                        }
                        state = next;
                        since_submit.push(state);
                        if state == S::Active {
                            prop_assert!(in_order(&since_submit, &[
                                S::TenantSubmitted,
                                S::PendingApproval,
                                S::Approved,
                                S::CredentialsConnected,
                                S::MappingsComplete,
                                S::Active,
                            ]), "reached active via {:?}", since_submit);
                        }
                    }
                    Err(e) => {
                        prop_assert!(!allowed.contains(&kind));
                        prop_assert_eq!(e.from, state);
                        prop_assert_eq!(e.event, kind);
                        prop_assert_eq!(&e.allowed, &allowed);
                        prop_assert!(!e.allowed.is_empty());
                    }
                }
            }
        }
    }
}
