//! What a form sent, kept across the redirect back to it: the values typed (never secrets) and
//! each refusal at its field, so a page can show the error next to its input
//! (`aria-describedby`) with the input as typed. Also kept across signing in again after a
//! session expired (see [`crate::web::csrf`]).
use std::collections::HashMap;

use actix_session::Session;
use serde::{Deserialize, Serialize};

use crate::web::error::FieldError;

const KEY: &str = "kept_form";

/// Field names whose values are never kept (they would sit in the session cookie).
const SECRET_FIELDS: [&str; 4] = ["csrf_token", "password", "client_secret", "token"];

/// At most this many bytes of typed values are kept: the session is a cookie (4 KB in all).
const MAX_KEPT_BYTES: usize = 1500;

/// A form's values and errors, for the page at `path`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Kept {
    /// The page the form is on.
    pub path: String,
    /// Field → value as typed.
    pub values: HashMap<String, String>,
    /// Field → message.
    pub errors: HashMap<String, String>,
}

impl Kept {
    /// Keeps `values` (secrets dropped) and `errors` for the next view of `path`.
    pub fn keep<'a>(
        session: &Session,
        path: &str,
        values: impl IntoIterator<Item = (&'a str, &'a str)>,
        errors: &[FieldError],
    ) {
        let mut budget = MAX_KEPT_BYTES;
        let kept = Kept {
            path: path.to_owned(),
            values: values
                .into_iter()
                .filter(|(k, _)| !SECRET_FIELDS.contains(k))
                .take_while(|(k, v)| {
                    let n = k.len() + v.len();
                    budget = budget.saturating_sub(n);
                    budget > 0
                })
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            // A message can quote what was typed: cut it so the session cookie always fits.
            errors: errors
                .iter()
                .take(20)
                .map(|e| {
                    (
                        crate::web::input::truncate(&e.field, 80),
                        crate::web::input::truncate(&e.message, 200),
                    )
                })
                .collect(),
        };
        let _ = session.insert(KEY, kept);
    }

    /// Takes what was kept for `path` (nothing if it was kept for another page).
    pub fn take(session: &Session, path: &str) -> Kept {
        match session.get::<Kept>(KEY).ok().flatten() {
            Some(k) if k.path == path => {
                session.remove(KEY);
                k
            }
            _ => Kept::default(),
        }
    }

    /// Whatever was kept, for carrying across a fresh session.
    pub fn peek(session: &Session) -> Option<Kept> {
        session.get::<Kept>(KEY).ok().flatten()
    }

    /// Puts a kept form back (after the session was renewed).
    pub fn restore(session: &Session, kept: Kept) {
        let _ = session.insert(KEY, kept);
    }

    /// The kept value of `field`, or `default`.
    pub fn value(&self, field: &str, default: &str) -> String {
        self.values
            .get(field)
            .cloned()
            .unwrap_or_else(|| default.to_owned())
    }

    /// Whether `field` was kept with value `v` (for selects and radios).
    pub fn is(&self, field: &str, v: &str) -> bool {
        self.values.get(field).is_some_and(|x| x == v)
    }

    /// Whether anything was kept.
    pub fn any(&self) -> bool {
        !self.values.is_empty() || !self.errors.is_empty()
    }

    /// The message for `field`, if it was refused.
    pub fn error(&self, field: &str) -> Option<&str> {
        self.errors.get(field).map(String::as_str)
    }

    /// Refusals not tied to a field shown on the page (`fields` are the ones shown).
    pub fn other_errors(&self, fields: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = self
            .errors
            .iter()
            .filter(|(f, _)| !fields.contains(&f.as_str()))
            .map(|(_, m)| m.clone())
            .collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_errors_are_looked_up_by_field() {
        let k = Kept {
            path: "/p".into(),
            values: HashMap::from([("tenant_id".into(), "12x".into())]),
            errors: HashMap::from([
                ("tenant_id".into(), "Tenant ID must be digits".into()),
                ("credentials".into(), "refused".into()),
            ]),
        };
        assert_eq!(k.value("tenant_id", ""), "12x");
        assert_eq!(k.value("other", "d"), "d");
        assert!(k.is("tenant_id", "12x") && !k.is("tenant_id", "1"));
        assert_eq!(k.error("tenant_id"), Some("Tenant ID must be digits"));
        assert_eq!(k.other_errors(&["tenant_id"]), vec!["refused".to_owned()]);
        assert!(k.any() && !Kept::default().any());
    }
}
