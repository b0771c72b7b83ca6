//! JPM calls: jobs, job notes, job types, appointments.
use futures::TryStreamExt;
use reqwest::Method;

use super::list_endpoint;
use crate::servicetitan::paths::{self, JPM};
use crate::servicetitan::{
    Appointment, Error, Job, JobNote, JobPatch, JobType, ListQuery, NewJob, NewNote, TenantClient,
};

impl TenantClient {
    list_endpoint!(
        /// Jobs; filter with `modified_on_or_after`, `customer_id`, `job_status`, `external_data`.
        jobs, jobs_page, Job, JPM, paths::JOBS
    );

    /// One job, with our `externalData` entries.
    pub async fn job(&self, id: i64) -> Result<Job, Error> {
        self.get_json(JPM, &paths::job(id), &self.guid_query())
            .await
    }

    /// Books a job (a campaign is required).
    pub async fn create_job(&self, body: &NewJob) -> Result<Job, Error> {
        self.write_json(Method::POST, JPM, paths::JOBS, body).await
    }

    /// Updates a job; `tagTypeIds` replaces the whole list.
    pub async fn patch_job(&self, id: i64, body: &JobPatch) -> Result<Job, Error> {
        self.write_json(Method::PATCH, JPM, &paths::job(id), body)
            .await
    }

    /// Adds one tag to a job, keeping every other tag: `tagTypeIds` replaces the whole list,
    /// so the job is read just before the write and the union is sent. No write if present.
    pub async fn add_job_tag(&self, id: i64, tag_type_id: i64) -> Result<Job, Error> {
        let job = self.job(id).await?;
        let Some(tags) = crate::servicetitan::with_tag(&job.tag_type_ids, tag_type_id) else {
            return Ok(job);
        };
        let patch = JobPatch {
            tag_type_ids: Some(tags),
            ..JobPatch::default()
        };
        self.patch_job(id, &patch).await
    }

    /// Every note of a job (notes have no ID).
    pub async fn job_notes(&self, job_id: i64) -> Result<Vec<JobNote>, Error> {
        self.stream_of(JPM, paths::job_notes(job_id), ListQuery::new())
            .try_collect()
            .await
    }

    /// Appends a note to a job.
    pub async fn create_job_note(&self, job_id: i64, note: &NewNote) -> Result<JobNote, Error> {
        self.write_json(Method::POST, JPM, &paths::job_notes(job_id), note)
            .await
    }

    list_endpoint!(
        /// Job types with their business units.
        job_types, job_types_page, JobType, JPM, paths::JOB_TYPES
    );

    list_endpoint!(
        /// Appointments.
        appointments, appointments_page, Appointment, JPM, paths::APPOINTMENTS
    );
}
