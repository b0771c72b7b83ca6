//! Sync you can see and steer: the per-integration activity log (every outbound write and
//! inbound effect), and on integrations the pause switch, the last inbound page, the count of
//! consecutive credential refusals and when ops were last alerted.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (column, kind): `t` timestamp, `s` string, `i` integer (default 0).
const INTEGRATION_COLUMNS: &[(&str, char)] = &[
    ("sync_paused_at", 't'),
    ("sync_paused_by", 's'),
    ("last_inbound_at", 't'),
    ("auth_failures", 'i'),
    ("ops_alert_at", 't'),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("sync_activity")
                .col(big_pk_auto("id"))
                .col(big_integer("integration_id"))
                // out | in
                .col(string("direction"))
                // customer | location | tag | membership | credit_balance | reminder_note | job
                // | booking | reminders_queued | credit_redemption | membership_status | location_edit
                .col(string("kind"))
                .col(big_integer_null("member_id"))
                .col(big_integer_null("location_id"))
                .col(big_integer_null("st_id"))
                .col(big_integer_null("task_id"))
                // ok | retry | failed
                .col(string("result"))
                .col(integer("attempt").default(0))
                // JSON: {"field": {"before": …, "after": …}, …}
                .col(text_null("fields"))
                .col(text_null("error"))
                .col(big_integer("at_ms"))
                .foreign_key(&mut fk("sync_activity", "integration_id", "integrations"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "sync_activity",
            "ix_sync_activity_time",
            &["integration_id", "at_ms"],
            false,
        ))
        .await?;
        m.create_index(index(
            "sync_activity",
            "ix_sync_activity_member",
            &["integration_id", "member_id"],
            false,
        ))
        .await?;
        m.create_index(index(
            "sync_activity",
            "ix_sync_activity_age",
            &["at_ms"],
            false,
        ))
        .await?;
        // One column per statement: SQLite adds one column per ALTER TABLE.
        for (column, kind) in INTEGRATION_COLUMNS {
            let mut col = ColumnDef::new(Alias::new(*column));
            match kind {
                't' => col.timestamp_with_time_zone().null(),
                's' => col.string().null(),
                _ => col.integer().not_null().default(0),
            };
            m.alter_table(
                Table::alter()
                    .table(Alias::new("integrations"))
                    .add_column(&mut col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (column, _) in INTEGRATION_COLUMNS.iter().rev() {
            m.alter_table(
                Table::alter()
                    .table(Alias::new("integrations"))
                    .drop_column(Alias::new(*column))
                    .to_owned(),
            )
            .await?;
        }
        m.drop_table(Table::drop().table("sync_activity").to_owned())
            .await
    }
}
