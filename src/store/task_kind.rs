//! The kinds of durable task, typed: one enum carries each kind's payload, its name in the
//! `sync_tasks.kind` column and its dedupe key. A kind the worker does not handle is a compile
//! error (the worker matches on this enum), not a run-time "unknown task kind".
//!
//! Dedupe keys name the resource a task writes, so a burst coalesces into one pending task and
//! two tasks for one resource never run at once.
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// What a task does, with what it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskKind {
    /// Find or create the member's customer and locations in ServiceTitan; store the links.
    LinkMember {
        /// Our member ID.
        member_id: i64,
    },
    /// The partner's tag on the member's customer.
    TagCustomer {
        /// Our member ID.
        member_id: i64,
    },
    /// The member's plan as a customer membership.
    Membership {
        /// Our member ID.
        member_id: i64,
    },
    /// The location's Comfort Credit balance in the mapped custom field.
    CreditBalance {
        /// Our service location ID.
        location_id: i64,
    },
    /// One note per open alert on every upcoming job at the location.
    JobReminders {
        /// Our service location ID.
        location_id: i64,
    },
    /// One page of an inbound stream.
    Poll {
        /// The integration (poll keys are per integration).
        integration_id: i64,
        /// Stream name.
        stream: String,
    },
    /// Finish a pending booking.
    Booking {
        /// Our booking ID.
        booking_id: i64,
    },
}

#[derive(Serialize, Deserialize)]
struct MemberPayload {
    member_id: i64,
}

#[derive(Serialize, Deserialize)]
struct LocationPayload {
    location_id: i64,
}

#[derive(Serialize, Deserialize)]
struct PollPayload {
    stream: String,
}

#[derive(Serialize, Deserialize)]
struct BookingPayload {
    booking_id: i64,
}

/// A stored task whose kind or payload is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad task '{kind}': {reason}")]
pub struct KindError {
    /// The stored kind.
    pub kind: String,
    /// What is wrong.
    pub reason: String,
}

impl TaskKind {
    /// Every kind's name, for the ops console.
    pub const NAMES: [&'static str; 7] = [
        "link_member",
        "tag_customer",
        "membership",
        "credit_balance",
        "job_reminders",
        "poll",
        "booking",
    ];

    /// The name stored in `sync_tasks.kind`.
    pub fn name(&self) -> &'static str {
        match self {
            TaskKind::LinkMember { .. } => "link_member",
            TaskKind::TagCustomer { .. } => "tag_customer",
            TaskKind::Membership { .. } => "membership",
            TaskKind::CreditBalance { .. } => "credit_balance",
            TaskKind::JobReminders { .. } => "job_reminders",
            TaskKind::Poll { .. } => "poll",
            TaskKind::Booking { .. } => "booking",
        }
    }

    /// The resource key: a pending task with the same key absorbs a new one.
    pub fn dedupe_key(&self) -> String {
        match self {
            TaskKind::LinkMember { member_id } => format!("link:{member_id}"),
            TaskKind::TagCustomer { member_id } => format!("tags:{member_id}"),
            TaskKind::Membership { member_id } => format!("membership:{member_id}"),
            TaskKind::CreditBalance { location_id } => format!("credit:{location_id}"),
            TaskKind::JobReminders { location_id } => format!("reminders:{location_id}"),
            TaskKind::Poll {
                integration_id,
                stream,
            } => format!("poll:{integration_id}:{stream}"),
            TaskKind::Booking { booking_id } => format!("booking:{booking_id}"),
        }
    }

    /// The JSON stored in `sync_tasks.payload`.
    pub fn payload(&self) -> Value {
        match self {
            TaskKind::LinkMember { member_id }
            | TaskKind::TagCustomer { member_id }
            | TaskKind::Membership { member_id } => json!(MemberPayload {
                member_id: *member_id
            }),
            TaskKind::CreditBalance { location_id } | TaskKind::JobReminders { location_id } => {
                json!(LocationPayload {
                    location_id: *location_id
                })
            }
            TaskKind::Poll { stream, .. } => json!(PollPayload {
                stream: stream.clone()
            }),
            TaskKind::Booking { booking_id } => json!(BookingPayload {
                booking_id: *booking_id
            }),
        }
    }

    /// Reads a stored task's kind and payload back.
    pub fn from_row(integration_id: i64, kind: &str, payload: &str) -> Result<TaskKind, KindError> {
        fn parse<T: serde::de::DeserializeOwned>(
            kind: &str,
            payload: &str,
        ) -> Result<T, KindError> {
            serde_json::from_str(payload).map_err(|e| KindError {
                kind: kind.to_owned(),
                reason: e.to_string(),
            })
        }
        Ok(match kind {
            "link_member" => TaskKind::LinkMember {
                member_id: parse::<MemberPayload>(kind, payload)?.member_id,
            },
            "tag_customer" => TaskKind::TagCustomer {
                member_id: parse::<MemberPayload>(kind, payload)?.member_id,
            },
            "membership" => TaskKind::Membership {
                member_id: parse::<MemberPayload>(kind, payload)?.member_id,
            },
            "credit_balance" => TaskKind::CreditBalance {
                location_id: parse::<LocationPayload>(kind, payload)?.location_id,
            },
            "job_reminders" => TaskKind::JobReminders {
                location_id: parse::<LocationPayload>(kind, payload)?.location_id,
            },
            "poll" => TaskKind::Poll {
                integration_id,
                stream: parse::<PollPayload>(kind, payload)?.stream,
            },
            "booking" => TaskKind::Booking {
                booking_id: parse::<BookingPayload>(kind, payload)?.booking_id,
            },
            other => {
                return Err(KindError {
                    kind: other.to_owned(),
                    reason: "unknown task kind".into(),
                });
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_row() {
        let kinds = [
            TaskKind::LinkMember { member_id: 1 },
            TaskKind::TagCustomer { member_id: 2 },
            TaskKind::Membership { member_id: 3 },
            TaskKind::CreditBalance { location_id: 4 },
            TaskKind::JobReminders { location_id: 5 },
            TaskKind::Poll {
                integration_id: 9,
                stream: "jobs".into(),
            },
            TaskKind::Booking { booking_id: 7 },
        ];
        for k in kinds {
            assert!(TaskKind::NAMES.contains(&k.name()));
            let back = TaskKind::from_row(9, k.name(), &k.payload().to_string()).unwrap();
            assert_eq!(back, k);
        }
    }

    #[test]
    fn keys_name_the_resource_and_bad_rows_are_refused() {
        assert_eq!(
            TaskKind::CreditBalance { location_id: 4 }.dedupe_key(),
            "credit:4"
        );
        assert!(TaskKind::from_row(1, "nope", "{}").is_err());
        assert!(TaskKind::from_row(1, "link_member", "{}").is_err());
    }
}
