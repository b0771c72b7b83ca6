//! Device alerts and the job-note reminders they cause.
//!
//! A device event opens or resolves an alert for its location. While an alert is open, every
//! upcoming job at the location gets one note per alert episode; the note text carries a
//! [`marker`] so a retry can find a note it already wrote.
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An alert kind on a location's hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// The smart hub stopped reporting.
    HubOffline,
    /// The hub's battery is low.
    BatteryLow,
    /// The air filter is due for a change.
    AirFilterDue,
}

impl AlertKind {
    /// Every alert kind.
    pub const ALL: [AlertKind; 3] = [Self::HubOffline, Self::BatteryLow, Self::AirFilterDue];

    /// The snake_case name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HubOffline => "hub_offline",
            Self::BatteryLow => "battery_low",
            Self::AirFilterDue => "air_filter_due",
        }
    }

    /// A short human label.
    pub fn label(self) -> &'static str {
        match self {
            Self::HubOffline => "Smart hub offline",
            Self::BatteryLow => "Hub battery low",
            Self::AirFilterDue => "Air filter due",
        }
    }
}

impl fmt::Display for AlertKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown alert or device event name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} '{value}'")]
pub struct UnknownName {
    /// What was being parsed.
    pub what: &'static str,
    /// The text received.
    pub value: String,
}

impl FromStr for AlertKind {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownName {
                what: "alert kind",
                value: s.to_owned(),
            })
    }
}

/// A device event reported by the platform for a location's hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceEvent {
    /// Hub stopped reporting.
    Offline,
    /// Hub reports again.
    Online,
    /// Battery low.
    BatteryLow,
    /// Battery fine again.
    BatteryOk,
    /// Air filter due.
    FilterDue,
    /// Air filter changed.
    FilterChanged,
}

impl DeviceEvent {
    /// Every device event.
    pub const ALL: [DeviceEvent; 6] = [
        Self::Offline,
        Self::Online,
        Self::BatteryLow,
        Self::BatteryOk,
        Self::FilterDue,
        Self::FilterChanged,
    ];

    /// The snake_case name used in the platform API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Offline => "offline",
            Self::Online => "online",
            Self::BatteryLow => "battery_low",
            Self::BatteryOk => "battery_ok",
            Self::FilterDue => "filter_due",
            Self::FilterChanged => "filter_changed",
        }
    }

    /// The alert this event concerns, and whether it opens (`true`) or clears it.
    pub fn alert(self) -> (AlertKind, bool) {
        match self {
            Self::Offline => (AlertKind::HubOffline, true),
            Self::Online => (AlertKind::HubOffline, false),
            Self::BatteryLow => (AlertKind::BatteryLow, true),
            Self::BatteryOk => (AlertKind::BatteryLow, false),
            Self::FilterDue => (AlertKind::AirFilterDue, true),
            Self::FilterChanged => (AlertKind::AirFilterDue, false),
        }
    }
}

impl fmt::Display for DeviceEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DeviceEvent {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownName {
                what: "device event",
                value: s.to_owned(),
            })
    }
}

/// What to do with the location's alerts after a device event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertAction {
    /// Open a new alert episode of this kind.
    Open(AlertKind),
    /// Resolve the open episode of this kind.
    Resolve(AlertKind),
    /// Nothing changes (already open, or nothing to resolve): repeated events are harmless.
    Unchanged(AlertKind),
}

/// Decides the alert action for `event`, given whether an alert of its kind is open now.
pub fn alert_action(event: DeviceEvent, currently_open: bool) -> AlertAction {
    match (event.alert(), currently_open) {
        ((kind, true), false) => AlertAction::Open(kind),
        ((kind, false), true) => AlertAction::Resolve(kind),
        ((kind, _), _) => AlertAction::Unchanged(kind),
    }
}

/// What a reminder note's marker identifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkerRef {
    /// A stored reminder (alert episode) row ID.
    Reminder(i64),
    /// An alert identified by kind, location and job.
    Alert {
        /// Alert kind.
        alert: AlertKind,
        /// Our location ID.
        location_id: i64,
        /// ServiceTitan job ID.
        job_id: i64,
    },
}

/// The marker carried in a note's text: `[titanbridge:reminder:<id>]` or
/// `[titanbridge:reminder:<alert>:<location id>:<job id>]`.
pub fn marker(r: MarkerRef) -> String {
    match r {
        MarkerRef::Reminder(id) => format!("[titanbridge:reminder:{id}]"),
        MarkerRef::Alert {
            alert,
            location_id,
            job_id,
        } => format!("[titanbridge:reminder:{alert}:{location_id}:{job_id}]"),
    }
}

/// The note text: the rendered template, a blank line, then the marker.
pub fn note_text(rendered: &str, marker: &str) -> String {
    format!("{}\n\n{marker}", rendered.trim_end())
}

/// Whether a job still needs the note with `marker`: no existing note carries it.
pub fn note_needed<'a, I>(existing_note_texts: I, marker: &str) -> bool
where
    I: IntoIterator<Item = &'a str>,
{
    !existing_note_texts.into_iter().any(|t| t.contains(marker))
}

/// Placeholders a reminder template may use.
pub const TEMPLATE_VARS: [&str; 6] = [
    "member_name",
    "location_name",
    "address",
    "alert",
    "since",
    "job_number",
];

/// A template that cannot be parsed or rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `{` without a matching `}`.
    #[error("unclosed '{{' at character {0}")]
    Unclosed(usize),
    /// `}` without an opening `{`.
    #[error("unmatched '}}' at character {0}")]
    Unmatched(usize),
    /// `{}` or a name with characters other than `a-z`, `0-9`, `_`.
    #[error("bad placeholder '{{{0}}}'")]
    BadName(String),
    /// A placeholder not in the allowed set.
    #[error("unknown placeholder '{{{name}}}' (allowed: {allowed})")]
    Unknown {
        /// The placeholder.
        name: String,
        /// The allowed names, comma separated.
        allowed: String,
    },
    /// No value supplied for a placeholder.
    #[error("no value for placeholder '{{{0}}}'")]
    MissingValue(String),
}

enum Piece<'a> {
    Text(&'a str),
    Var(&'a str),
}

/// Splits a template into text and `{name}` pieces; `{{` and `}}` stand for literal braces.
fn pieces(template: &str) -> Result<Vec<Piece<'_>>, TemplateError> {
    let mut out = Vec::new();
    let mut rest = template;
    let mut offset = 0;
    // Errors report a character position (templates may hold non-ASCII text).
    let at = |byte: usize| template[..byte].chars().count();
    while !rest.is_empty() {
        let Some(i) = rest.find(['{', '}']) else {
            out.push(Piece::Text(rest));
            break;
        };
        out.push(Piece::Text(&rest[..i]));
        let brace = &rest[i..i + 1];
        if rest[i + 1..].starts_with(brace) {
            out.push(Piece::Text(brace));
            offset += i + 2;
            rest = &rest[i + 2..];
            continue;
        }
        if brace == "}" {
            return Err(TemplateError::Unmatched(at(offset + i)));
        }
        let close = rest[i + 1..]
            .find('}')
            .ok_or_else(|| TemplateError::Unclosed(at(offset + i)))?;
        let name = &rest[i + 1..i + 1 + close];
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(TemplateError::BadName(name.to_owned()));
        }
        out.push(Piece::Var(name));
        offset += i + close + 2;
        rest = &rest[i + close + 2..];
    }
    Ok(out)
}

/// The placeholders a template uses, each checked against `allowed`.
pub fn check_template(template: &str, allowed: &[&str]) -> Result<Vec<String>, TemplateError> {
    let mut names = Vec::new();
    for p in pieces(template)? {
        if let Piece::Var(name) = p {
            if !allowed.contains(&name) {
                return Err(TemplateError::Unknown {
                    name: name.to_owned(),
                    allowed: allowed.join(", "),
                });
            }
            if !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
        }
    }
    Ok(names)
}

/// Replaces each `{name}` with `vars[name]`; a placeholder without a value is an error.
pub fn render(template: &str, vars: &BTreeMap<&str, String>) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len());
    for p in pieces(template)? {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Var(name) => out.push_str(
                vars.get(name)
                    .ok_or_else(|| TemplateError::MissingValue(name.to_owned()))?,
            ),
        }
    }
    Ok(out)
}

/// ServiceTitan job status, as read from `jobStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JobStatus {
    /// Booked, not yet dispatched.
    Scheduled,
    /// Technician dispatched.
    Dispatched,
    /// Work started.
    InProgress,
    /// On hold.
    Hold,
    /// Done.
    Completed,
    /// Cancelled (ServiceTitan spells it `Canceled`).
    Canceled,
}

impl FromStr for JobStatus {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let all = [
            ("scheduled", Self::Scheduled),
            ("dispatched", Self::Dispatched),
            ("inprogress", Self::InProgress),
            ("hold", Self::Hold),
            ("completed", Self::Completed),
            ("canceled", Self::Canceled),
            ("cancelled", Self::Canceled),
        ];
        let key: String = s
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        all.into_iter()
            .find(|(n, _)| *n == key)
            .map(|(_, st)| st)
            .ok_or_else(|| UnknownName {
                what: "job status",
                value: s.to_owned(),
            })
    }
}

impl JobStatus {
    /// Whether reminders attach to a job in this status: `Scheduled` or `Dispatched` only
    /// (work not started, not completed or cancelled).
    pub fn is_upcoming(self) -> bool {
        matches!(self, Self::Scheduled | Self::Dispatched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_events_open_and_resolve() {
        use AlertAction::*;
        assert_eq!(
            alert_action(DeviceEvent::Offline, false),
            Open(AlertKind::HubOffline)
        );
        assert_eq!(
            alert_action(DeviceEvent::Offline, true),
            Unchanged(AlertKind::HubOffline)
        );
        assert_eq!(
            alert_action(DeviceEvent::Online, true),
            Resolve(AlertKind::HubOffline)
        );
        assert_eq!(
            alert_action(DeviceEvent::Online, false),
            Unchanged(AlertKind::HubOffline)
        );
        assert_eq!(
            alert_action(DeviceEvent::BatteryLow, false),
            Open(AlertKind::BatteryLow)
        );
        assert_eq!(
            alert_action(DeviceEvent::BatteryOk, true),
            Resolve(AlertKind::BatteryLow)
        );
        assert_eq!(
            alert_action(DeviceEvent::FilterDue, false),
            Open(AlertKind::AirFilterDue)
        );
        assert_eq!(
            alert_action(DeviceEvent::FilterChanged, true),
            Resolve(AlertKind::AirFilterDue)
        );
        for k in AlertKind::ALL {
            let opens = DeviceEvent::ALL
                .iter()
                .filter(|e| e.alert() == (k, true))
                .count();
            let clears = DeviceEvent::ALL
                .iter()
                .filter(|e| e.alert() == (k, false))
                .count();
            assert_eq!((opens, clears), (1, 1), "{k}");
        }
    }

    #[test]
    fn names_round_trip() {
        for k in AlertKind::ALL {
            assert_eq!(k.as_str().parse::<AlertKind>(), Ok(k));
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{k}\""));
        }
        for e in DeviceEvent::ALL {
            assert_eq!(e.as_str().parse::<DeviceEvent>(), Ok(e));
        }
        assert_eq!(
            "smoke".parse::<DeviceEvent>().unwrap_err().to_string(),
            "unknown device event 'smoke'"
        );
    }

    #[test]
    fn markers_and_dedupe() {
        let m = marker(MarkerRef::Reminder(42));
        assert_eq!(m, "[titanbridge:reminder:42]");
        let m2 = marker(MarkerRef::Alert {
            alert: AlertKind::BatteryLow,
            location_id: 7,
            job_id: 9001,
        });
        assert_eq!(m2, "[titanbridge:reminder:battery_low:7:9001]");
        let note = note_text("Hub offline.\n", &m);
        assert_eq!(note, "Hub offline.\n\n[titanbridge:reminder:42]");
        assert!(note_needed([] as [&str; 0], &m));
        assert!(note_needed(["other", "[titanbridge:reminder:4]"], &m));
        assert!(!note_needed(["x", note.as_str()], &m));
        // 4 is not a prefix match of 42 nor the reverse.
        assert!(note_needed(
            [note.as_str()],
            &marker(MarkerRef::Reminder(4))
        ));
    }

    #[test]
    fn render_fills_placeholders() {
        let vars = BTreeMap::from([
            ("member_name", "Ann Lee".to_owned()),
            ("since", "2024-05-01".to_owned()),
        ]);
        assert_eq!(
            render("{member_name}'s hub offline since {since} {{ok}}", &vars),
            Ok("Ann Lee's hub offline since 2024-05-01 {ok}".to_owned())
        );
        assert_eq!(
            render("{address}", &vars),
            Err(TemplateError::MissingValue("address".into()))
        );
        assert_eq!(render("a {since", &vars), Err(TemplateError::Unclosed(2)));
        assert_eq!(render("a } b", &vars), Err(TemplateError::Unmatched(2)));
        assert_eq!(
            render("{}", &vars),
            Err(TemplateError::BadName(String::new()))
        );
        assert_eq!(
            render("{Since}", &vars),
            Err(TemplateError::BadName("Since".into()))
        );
        assert_eq!(render("no vars", &vars), Ok("no vars".to_owned()));
        assert_eq!(render("é {x", &vars), Err(TemplateError::Unclosed(2)));
    }

    #[test]
    fn check_template_lists_and_refuses_unknown() {
        assert_eq!(
            check_template("{address} {since} {address}", &TEMPLATE_VARS),
            Ok(vec!["address".to_owned(), "since".to_owned()])
        );
        let err = check_template("{colour}", &TEMPLATE_VARS).unwrap_err();
        assert!(matches!(&err, TemplateError::Unknown { name, .. } if name == "colour"));
        assert!(err.to_string().contains("member_name"));
    }

    #[test]
    fn upcoming_jobs() {
        let up = |s: &str| s.parse::<JobStatus>().map(JobStatus::is_upcoming);
        assert_eq!(up("Scheduled"), Ok(true));
        assert_eq!(up("Dispatched"), Ok(true));
        assert_eq!(up("InProgress"), Ok(false));
        assert_eq!(up("Hold"), Ok(false));
        assert_eq!(up("Completed"), Ok(false));
        assert_eq!(up("Canceled"), Ok(false));
        assert_eq!(up("cancelled"), Ok(false));
        assert!(up("Lost").is_err());
    }
}
