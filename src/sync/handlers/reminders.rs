//! Job-note reminders: while a location has open alerts, every upcoming job there gets one
//! note per alert episode, appended exactly once.
//!
//! Per (episode, job): the local record of written notes is read first; then the job's notes
//! are read and searched for the episode's marker (a note written by an attempt that crashed
//! before recording it); only then is the note appended and recorded. Resolved episodes are
//! never added.
use crate::store::task_kind::TaskKind;
use std::collections::BTreeMap;

use futures::TryStreamExt;

use crate::domain::reminders::{AlertKind, JobStatus, MarkerRef, marker, note_needed, note_text};
use crate::servicetitan::{Job, ListQuery, NewNote};
use crate::store::activity::NewActivity;
use crate::store::members::ServiceLocation;
use crate::store::reminders::{self as store_reminders, Reminder};
use crate::store::{links, members};
use crate::sync::error::HandlerError;

use super::Run;

pub(super) async fn run(job: &Run<'_>, location_id: i64) -> Result<(), HandlerError> {
    let db = job.ctx.state.store.db();
    let iid = job.integration.id;
    let open = store_reminders::open_at(db, location_id).await?;
    if open.is_empty() {
        return Ok(());
    }
    let loc = members::location(db, location_id)
        .await?
        .ok_or_else(|| HandlerError::Permanent(format!("location {location_id} not found")))?;
    let Some(st_location) = links::st_id(db, iid, links::kind::LOCATION, location_id).await? else {
        TaskKind::LinkMember {
            member_id: loc.member_id,
        }
        .enqueue(db, iid)
        .await?;
        return Err(HandlerError::retry("waiting for the location link"));
    };
    let jobs: Vec<Job> = job
        .client
        .jobs(ListQuery::new().location_id(st_location).page_size(200))
        .try_collect()
        .await?;
    let upcoming = jobs.into_iter().filter(|j| {
        j.job_status
            .parse::<JobStatus>()
            .is_ok_and(JobStatus::is_upcoming)
    });
    let member_name = match members::get(db, loc.member_id).await? {
        Some(m) => format!("{} {}", m.first_name, m.last_name),
        None => String::new(),
    };
    for st_job in upcoming {
        let mut notes: Option<Vec<String>> = None;
        for r in &open {
            if store_reminders::note_written(db, r.id, st_job.id).await? {
                continue;
            }
            // Re-check: the alert may have been resolved while we were working.
            if store_reminders::open_at(db, location_id)
                .await?
                .iter()
                .all(|o| o.id != r.id)
            {
                continue;
            }
            let mark = marker(MarkerRef::Reminder(r.id));
            if notes.is_none() {
                notes = Some(
                    job.client
                        .job_notes(st_job.id)
                        .await?
                        .into_iter()
                        .map(|n| n.text)
                        .collect(),
                );
            }
            let existing = notes.as_deref().unwrap_or_default();
            if note_needed(existing.iter().map(String::as_str), &mark) {
                let text = render(job, r, &loc, &member_name, &st_job, &mark)?;
                job.client
                    .create_job_note(
                        st_job.id,
                        &NewNote {
                            text: text.clone(),
                            pin_to_top: false,
                        },
                    )
                    .await?;
                tracing::info!(
                    job_id = st_job.id,
                    reminder_id = r.id,
                    "reminder note added"
                );
                job.wrote(
                    NewActivity::wrote("reminder_note", Some(st_job.id))
                        .member(loc.member_id)
                        .location(Some(location_id))
                        .field("alert", None::<String>, Some(r.alert.clone())),
                );
                if let Some(n) = notes.as_mut() {
                    n.push(text);
                }
            }
            store_reminders::record_note(db, iid, r.id, st_job.id, &mark).await?;
        }
    }
    Ok(())
}

fn render(
    job: &Run<'_>,
    r: &Reminder,
    loc: &ServiceLocation,
    member_name: &str,
    st_job: &Job,
    mark: &str,
) -> Result<String, HandlerError> {
    let alert: AlertKind = r
        .alert
        .parse()
        .map_err(|e| HandlerError::Permanent(format!("reminder {}: {e}", r.id)))?;
    let address = match &loc.unit {
        Some(u) => format!(
            "{} {}, {}, {} {}",
            loc.street, u, loc.city, loc.state, loc.zip
        ),
        None => format!("{}, {}, {} {}", loc.street, loc.city, loc.state, loc.zip),
    };
    let vars = BTreeMap::from([
        ("member_name", member_name.to_owned()),
        ("location_name", loc.name.clone()),
        ("address", address),
        ("alert", alert.label().to_owned()),
        (
            "since",
            r.opened_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        ),
        ("job_number", st_job.job_number.clone()),
    ]);
    let rendered = job
        .ctx
        .catalog
        .render_reminder(alert, &vars)
        .map_err(|e| HandlerError::Permanent(format!("reminder template for {alert}: {e}")))?;
    Ok(note_text(&rendered, mark))
}
