//! The sync engine's tables: external links, durable tasks, poll cursors, seen inbound records
//! and notes written to jobs.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("external_links")
                .col(big_pk_auto("id"))
                .col(big_integer("integration_id"))
                // customer | location | membership | job | booking
                .col(string("kind"))
                .col(string("local_id"))
                .col(big_integer("st_id"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("external_links", "integration_id", "integrations"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "external_links",
            "ux_external_links_local",
            &["integration_id", "kind", "local_id"],
            true,
        ))
        .await?;
        m.create_index(index(
            "external_links",
            "ix_external_links_st",
            &["integration_id", "kind", "st_id"],
            false,
        ))
        .await?;
        m.create_table(
            Table::create()
                .table("sync_tasks")
                .col(big_pk_auto("id"))
                .col(big_integer("integration_id"))
                .col(string("kind"))
                .col(text("payload"))
                .col(string_null("dedupe_key"))
                // pending | running | done | dead
                .col(string("state"))
                .col(integer("attempts").default(0))
                .col(big_integer("run_after_ms"))
                .col(string_null("lease_owner"))
                .col(big_integer_null("lease_until_ms"))
                .col(text_null("last_error"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("sync_tasks", "integration_id", "integrations"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "sync_tasks",
            "ix_sync_tasks_due",
            &["state", "run_after_ms"],
            false,
        ))
        .await?;
        m.create_index(index(
            "sync_tasks",
            "ix_sync_tasks_integration",
            &["integration_id", "state"],
            false,
        ))
        .await?;
        // One pending task per dedupe key: a burst of credit changes coalesces into one write.
        m.get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_sync_tasks_pending_dedupe ON sync_tasks (dedupe_key) \
                 WHERE state = 'pending' AND dedupe_key IS NOT NULL",
            )
            .await?;
        m.create_table(
            Table::create()
                .table("sync_cursors")
                .col(big_pk_auto("id"))
                .col(big_integer("integration_id"))
                // jobs | appointments | invoices | memberships | locations
                .col(string("stream"))
                .col(timestamp_with_time_zone_null("watermark"))
                .col(text_null("continue_from"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("sync_cursors", "integration_id", "integrations"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "sync_cursors",
            "ux_sync_cursors",
            &["integration_id", "stream"],
            true,
        ))
        .await?;
        // Inbound records already applied, by ServiceTitan ID and modifiedOn.
        m.create_table(
            Table::create()
                .table("inbound_seen")
                .col(big_pk_auto("id"))
                .col(big_integer("integration_id"))
                .col(string("stream"))
                .col(big_integer("st_id"))
                .col(string("modified_on"))
                .foreign_key(&mut fk("inbound_seen", "integration_id", "integrations"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "inbound_seen",
            "ux_inbound_seen",
            &["integration_id", "stream", "st_id", "modified_on"],
            true,
        ))
        .await?;
        // Reminder notes written to ServiceTitan jobs: one per (reminder, job).
        m.create_table(
            Table::create()
                .table("reminder_notes")
                .col(big_pk_auto("id"))
                .col(big_integer("integration_id"))
                .col(big_integer("reminder_id"))
                .col(big_integer("st_job_id"))
                .col(string("marker"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("reminder_notes", "reminder_id", "reminders"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "reminder_notes",
            "ux_reminder_notes",
            &["reminder_id", "st_job_id"],
            true,
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "reminder_notes",
            "inbound_seen",
            "sync_cursors",
            "sync_tasks",
            "external_links",
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
